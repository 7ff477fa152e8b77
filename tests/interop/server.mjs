// A reference EchoService on @grpc/grpc-js. Our C# client is tested against it, and client.mjs is
// validated against it, so its behaviour follows the comments in echo.proto to the letter.
//
// Usage: node server.mjs [--port N]   (N = 0 picks an ephemeral port)
// Prints exactly one line "LISTENING <port>" on stdout once it accepts calls; exits 0 on SIGTERM/SIGINT.
import grpc from '@grpc/grpc-js';
import { loadProto, MAX_MESSAGE_BYTES, patternBytes } from './protos.mjs';

function parsePort(argv) {
  const index = argv.indexOf('--port');
  if (index === -1) return 0;
  const port = Number(argv[index + 1]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`invalid --port '${argv[index + 1]}'`);
    process.exit(2);
  }
  return port;
}

const observations = { cancelled_by_client: 0, deadline_exceeded: 0 };

// grpc-js fires 'cancelled' both when the client resets the stream and when the server-side
// deadline timer expires; the deadline tells the two apart. The client's own deadline timer
// usually resets the stream a moment before ours fires (our clock started when the headers
// arrived), so a reset within the last 50 ms is the deadline too.
const DEADLINE_SLACK_MS = 50;

function recordCancellation(call) {
  const deadline = deadlineMs(call);
  if (deadline !== null && Date.now() >= deadline - DEADLINE_SLACK_MS) {
    observations.deadline_exceeded++;
  } else {
    observations.cancelled_by_client++;
  }
}

function deadlineMs(call) {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : Number(deadline);
  return Number.isFinite(ms) ? ms : null;
}

function deadlineRemainingMs(call) {
  const deadline = deadlineMs(call);
  return deadline === null ? -1 : Math.max(0, deadline - Date.now());
}

// Only "x-" keys: transport headers (user-agent, te, grpc-*) are not part of the contract.
function echoedMetadata(metadata) {
  const result = {};
  for (const key of Object.keys(metadata.getMap())) {
    if (!key.startsWith('x-')) continue;
    const values = metadata.get(key);
    result[key] = values
      .map((value) => (key.endsWith('-bin') ? Buffer.from(value).toString('base64') : String(value)))
      .join(',');
  }
  return result;
}

function responsePayload(request) {
  return request.response_payload_bytes > 0 ? patternBytes(request.response_payload_bytes) : request.payload;
}

function failure(request) {
  return { code: request.fail_with_code, details: request.fail_message };
}

/** Resolves after `ms`, or early (returning false) when the call is cancelled. */
function delay(call, ms) {
  if (call.cancelled) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onCancelled = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      call.removeListener('cancelled', onCancelled);
      resolve(true);
    }, ms);
    call.once('cancelled', onCancelled);
  });
}

/** Counts a cancellation once, and only while the handler is still working on the call. */
function watchCancellation(call) {
  const state = { done: false };
  call.once('cancelled', () => {
    if (!state.done) {
      state.done = true;
      recordCancellation(call);
    }
  });
  return state;
}

function trailers() {
  const metadata = new grpc.Metadata();
  metadata.set('x-echo-trailer', 'done');
  return metadata;
}

async function echo(call, callback) {
  const state = watchCancellation(call);
  const request = call.request;
  const headers = new grpc.Metadata();
  headers.set('x-echo-server', 'node');
  call.sendMetadata(headers);

  if (request.fail_with_code !== 0) {
    state.done = true;
    callback({ ...failure(request), metadata: trailers() });
    return;
  }
  if (request.delay_ms > 0 && !(await delay(call, request.delay_ms))) {
    return; // Cancelled: the status is already decided by the transport.
  }
  state.done = true;
  callback(
    null,
    {
      text: request.text,
      payload: responsePayload(request),
      request_metadata: echoedMetadata(call.metadata),
      deadline_remaining_ms: deadlineRemainingMs(call),
    },
    trailers(),
  );
}

function collect(call, callback) {
  const state = watchCancellation(call);
  let count = 0;
  let totalPayloadBytes = 0;
  const texts = [];
  call.on('data', (request) => {
    if (state.done) return;
    if (request.fail_with_code !== 0) {
      state.done = true;
      callback(failure(request));
      return;
    }
    count++;
    totalPayloadBytes += request.payload.length;
    texts.push(request.text);
  });
  call.on('end', () => {
    if (state.done) return;
    state.done = true;
    callback(null, { count, total_payload_bytes: totalPayloadBytes, texts });
  });
}

/** Writes with back-pressure: waits for 'drain' (or cancellation) when the buffer is full. */
function write(call, message) {
  if (call.write(message)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      call.removeListener('drain', done);
      call.removeListener('cancelled', done);
      resolve();
    };
    call.once('drain', done);
    call.once('cancelled', done);
  });
}

async function repeat(call) {
  const state = watchCancellation(call);
  const { text, count, interval_ms: intervalMs, payload_bytes: payloadBytes } = call.request;
  const payload = patternBytes(Math.max(0, payloadBytes));
  for (let i = 1; i <= count; i++) {
    if (i > 1 && intervalMs > 0 && !(await delay(call, intervalMs))) return;
    if (call.cancelled) return;
    await write(call, { text: `${text}-${i}`, sequence: i, payload });
  }
  if (call.cancelled) return;
  state.done = true;
  call.end();
}

function chat(call) {
  const state = watchCancellation(call);
  let sequence = 0;
  call.on('data', (request) => {
    if (state.done) return;
    if (request.fail_with_code !== 0) {
      state.done = true;
      call.emit('error', failure(request));
      return;
    }
    sequence++;
    const accepted = call.write({ text: request.text, payload: responsePayload(request), sequence });
    if (!accepted) {
      // Stop reading until the peer takes our answers: never buffer without bound.
      call.pause();
      call.once('drain', () => call.resume());
    }
  });
  call.on('end', () => {
    if (state.done) return;
    state.done = true;
    call.end();
  });
}

function getObservations(_call, callback) {
  callback(null, { ...observations });
}

const { webhookconnect } = loadProto('webhookconnect/testing/v1/echo.proto');
const server = new grpc.Server({
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
});
server.addService(webhookconnect.testing.v1.EchoService.service, {
  Echo: echo,
  Collect: collect,
  Repeat: repeat,
  Chat: chat,
  GetObservations: getObservations,
});

server.bindAsync(`127.0.0.1:${parsePort(process.argv)}`, grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) {
    console.error(`bind failed: ${error.message}`);
    process.exit(1);
  }
  process.stdout.write(`LISTENING ${port}\n`);
});

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  console.error(`${signal}: shutting down`);
  // Long-running calls (Repeat) would hold a graceful shutdown open; one second is enough grace.
  const force = setTimeout(() => {
    server.forceShutdown();
    process.exit(0);
  }, 1000);
  server.tryShutdown(() => {
    clearTimeout(force);
    process.exit(0);
  });
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
