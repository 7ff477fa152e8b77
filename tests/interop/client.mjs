// Interop checks: @grpc/grpc-js (an independent gRPC implementation) calls a server that speaks
// echo.proto, health.proto and reflection.proto, and compares every answer exactly.
//
// Usage: node client.mjs --target 127.0.0.1:PORT [--checks a,b,c] [--timeout-seconds 30]
// Prints one JSON line per check {"check","ok","detail"} and a final summary line; exits 0 iff all
// selected checks passed, 1 if any failed, 2 on bad arguments.
import grpc from '@grpc/grpc-js';
import reflectionJs from 'grpc-reflection-js';
import { loadFileDescriptorProtoType, loadProto, patternBytes } from './protos.mjs';

const { status: Status } = grpc;
const STATUS_NAMES = Object.fromEntries(Object.entries(Status).map(([name, code]) => [code, name]));
const MiB = 1024 * 1024;
const ECHO_SERVICE = 'webhookconnect.testing.v1.EchoService';
const HEALTH_SERVICE = 'grpc.health.v1.Health';

// The client must not be what limits message sizes: the server's 16 MiB limit is under test.
const CHANNEL_OPTIONS = {
  'grpc.max_send_message_length': 64 * MiB,
  'grpc.max_receive_message_length': 64 * MiB,
};

const echoPackage = loadProto('webhookconnect/testing/v1/echo.proto').webhookconnect.testing.v1;
const healthPackage = loadProto('grpc/health/v1/health.proto').grpc.health.v1;
const reflectionV1 = loadProto('grpc/reflection/v1/reflection.proto').grpc.reflection.v1;
const reflectionV1alpha = loadProto('grpc/reflection/v1alpha/reflection.proto').grpc.reflection.v1alpha;
const FileDescriptorProto = loadFileDescriptorProtoType();

// ---------------------------------------------------------------------------------------------
// Assertions: every check ends in an exact comparison that can fail.

class CheckFailed extends Error {}

function fail(message) {
  throw new CheckFailed(message);
}

function expect(condition, message) {
  if (!condition) fail(message);
}

// Sorted keys so that maps compare by content, not by insertion order.
function canonical(value) {
  if (Buffer.isBuffer(value)) return `<${value.length} bytes: ${value.toString('hex')}>`;
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical(value[key])]));
  }
  return value;
}

function show(value) {
  const text = JSON.stringify(canonical(value)) ?? String(value);
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

function expectEqual(actual, expected, what) {
  const a = JSON.stringify(canonical(actual));
  const e = JSON.stringify(canonical(expected));
  if (a === e) return;
  if (Array.isArray(actual) && Array.isArray(expected)) {
    // Long sequences: name the first difference rather than printing both lists.
    const index = expected.findIndex((item, i) => JSON.stringify(canonical(item)) !== JSON.stringify(canonical(actual[i])));
    const at = index === -1 ? expected.length : index;
    fail(`${what}: ${actual.length} items (expected ${expected.length}); first difference at index ${at}: expected ${show(expected[at])}, got ${show(actual[at])}`);
  }
  fail(`${what}: expected ${show(expected)}, got ${show(actual)}`);
}

function expectBytes(actual, expected, what) {
  expect(Buffer.isBuffer(actual), `${what}: expected bytes, got ${typeof actual}`);
  if (actual.length !== expected.length) fail(`${what}: expected ${expected.length} bytes, got ${actual.length}`);
  const index = actual.findIndex((byte, i) => byte !== expected[i]);
  if (index !== -1) fail(`${what}: first difference at byte ${index}: expected ${expected[index]}, got ${actual[index]}`);
}

function statusText(code) {
  return `${STATUS_NAMES[code] ?? 'UNKNOWN_CODE'}(${code})`;
}

function expectStatus(error, code, what) {
  if (!error) fail(`${what}: expected status ${statusText(code)}, but the call succeeded`);
  if (error.code !== code) {
    fail(`${what}: expected status ${statusText(code)}, got ${statusText(error.code)}: ${JSON.stringify(error.details)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Call helpers.

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A unary call as a promise that never rejects: { error, response }. */
function unary(client, method, request, { metadata = new grpc.Metadata(), deadlineMs } = {}) {
  const options = deadlineMs === undefined ? {} : { deadline: new Date(Date.now() + deadlineMs) };
  return new Promise((resolve) => {
    client[method](request, metadata, options, (error, response) => resolve({ error, response }));
  });
}

async function unaryOk(client, method, request, options) {
  const { error, response } = await unary(client, method, request, options);
  if (error) throw error;
  return response;
}

/** Pull-style reading of a response stream: next() returns a message, null at the end, or throws the status. */
class StreamReader {
  #buffer = [];
  #wake = null;
  #ended = false;
  #error = null;

  constructor(call) {
    call.on('data', (message) => this.#push(() => this.#buffer.push(message)));
    call.on('end', () => this.#push(() => (this.#ended = true)));
    call.on('error', (error) => this.#push(() => (this.#error = error)));
  }

  #push(update) {
    update();
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async next() {
    for (;;) {
      if (this.#buffer.length > 0) return this.#buffer.shift();
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise((resolve) => (this.#wake = resolve));
    }
  }

  async nextOrFail(what) {
    const message = await this.next();
    if (message === null) fail(`${what}: the stream ended early`);
    return message;
  }

  async readAll() {
    const messages = [];
    for (let message = await this.next(); message !== null; message = await this.next()) messages.push(message);
    return messages;
  }

  /** After cancel(): drains whatever was in flight and returns the status error. */
  async statusAfterCancel(what) {
    for (let i = 0; i < 100_000; i++) {
      try {
        if ((await this.next()) === null) fail(`${what}: the stream completed with OK after cancel()`);
      } catch (error) {
        if (error instanceof CheckFailed) throw error;
        return error;
      }
    }
    return fail(`${what}: the stream kept delivering messages after cancel()`);
  }
}

/** Polls GetObservations until `satisfied` holds (5 s), since the server counts cancellations asynchronously. */
async function waitForObservations(client, satisfied, what) {
  const deadline = Date.now() + 5000;
  let last;
  for (;;) {
    last = await unaryOk(client, 'GetObservations', {}, { deadlineMs: 2000 });
    if (satisfied(last)) return last;
    if (Date.now() > deadline) fail(`${what}: observations stayed at ${show(last)}`);
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------------
// Checks. Each gets a context that creates clients (closed afterwards) and returns a detail string.

const checks = {
  async unary(ctx) {
    const client = ctx.echo();
    const metadata = new grpc.Metadata();
    metadata.set('x-custom', 'abc');
    metadata.set('x-data-bin', Buffer.from([0, 1, 2, 255]));
    const payload = Buffer.from([1, 2, 3]);
    const response = await unaryOk(client, 'Echo', { text: 'héllo ✓', payload }, { metadata });
    expectEqual(response.text, 'héllo ✓', 'text');
    expectBytes(response.payload, payload, 'payload');
    expectEqual(response.request_metadata, { 'x-custom': 'abc', 'x-data-bin': 'AAEC/w==' }, 'request_metadata');
    expectEqual(response.deadline_remaining_ms, '-1', 'deadline_remaining_ms without a deadline');
    return 'text, payload and x- metadata (text and -bin) echoed exactly';
  },

  async client_streaming(ctx) {
    const client = ctx.echo();
    const texts = ['a', 'b', 'c', 'd', 'e'];
    const response = await new Promise((resolve, reject) => {
      const call = client.Collect((error, result) => (error ? reject(error) : resolve(result)));
      for (const text of texts) call.write({ text, payload: patternBytes(10) });
      call.end();
    });
    expectEqual(response.count, 5, 'count');
    expectEqual(response.total_payload_bytes, '50', 'total_payload_bytes');
    expectEqual(response.texts, texts, 'texts');
    return 'count 5, 50 payload bytes, texts a..e';
  },

  async server_streaming(ctx) {
    const client = ctx.echo();
    const reader = new StreamReader(client.Repeat({ text: 'r', count: 5, interval_ms: 0, payload_bytes: 7 }));
    const responses = await reader.readAll();
    expectEqual(
      responses.map((r) => [r.text, r.sequence]),
      [1, 2, 3, 4, 5].map((i) => [`r-${i}`, i]),
      'responses [text, sequence]',
    );
    responses.forEach((r, i) => expectBytes(r.payload, patternBytes(7), `payload of response ${i + 1}`));
    return '5 responses r-1..r-5, sequences 1..5, 7-byte payloads';
  },

  async bidi(ctx) {
    const client = ctx.echo();
    const call = client.Chat();
    const reader = new StreamReader(call);
    const responses = [];
    // Lock-step first: proves the server answers each message before the client half-closes.
    for (let i = 1; i <= 10; i++) {
      call.write({ text: `m${i}` });
      responses.push(await reader.nextOrFail(`response to m${i}`));
    }
    for (let i = 11; i <= 100; i++) call.write({ text: `m${i}` });
    call.end();
    responses.push(...(await reader.readAll()));
    const expected = Array.from({ length: 100 }, (_, i) => [`m${i + 1}`, i + 1]);
    expectEqual(responses.map((r) => [r.text, r.sequence]), expected, 'responses [text, sequence]');
    return '100 responses in order (10 lock-step, 90 pipelined)';
  },

  async deadline(ctx) {
    const client = ctx.echo();
    const before = await unaryOk(client, 'GetObservations', {});
    const started = Date.now();
    const { error } = await unary(client, 'Echo', { text: 'slow', delay_ms: 5000 }, { deadlineMs: 300 });
    const elapsed = Date.now() - started;
    expectStatus(error, Status.DEADLINE_EXCEEDED, 'Echo(delay 5 s, deadline 300 ms)');
    expect(elapsed < 3000, `DEADLINE_EXCEEDED took ${elapsed} ms (limit 3000 ms)`);
    // The server may see the deadline itself or the client's RST_STREAM first; either is correct.
    const seen = (o) => o.deadline_exceeded + o.cancelled_by_client;
    const after = await waitForObservations(
      client,
      (o) => seen(o) >= seen(before) + 1,
      'server-side deadline/cancellation observation',
    );
    return `DEADLINE_EXCEEDED after ${elapsed} ms; server observed ${show(before)} -> ${show(after)}`;
  },

  async deadline_propagation(ctx) {
    const client = ctx.echo();
    const response = await unaryOk(client, 'Echo', { text: 'deadline' }, { deadlineMs: 10_000 });
    const remaining = Number(response.deadline_remaining_ms);
    expect(
      remaining >= 5000 && remaining <= 10_000,
      `deadline_remaining_ms: expected 5000..10000, got ${response.deadline_remaining_ms}`,
    );
    return `server saw ${remaining} ms of a 10 s deadline`;
  },

  async cancellation(ctx) {
    const client = ctx.echo();

    const before = await unaryOk(client, 'GetObservations', {});
    const repeat = client.Repeat({ text: 'c', count: 1000, interval_ms: 50 });
    const repeatReader = new StreamReader(repeat);
    await repeatReader.nextOrFail('Repeat response 1');
    await repeatReader.nextOrFail('Repeat response 2');
    repeat.cancel();
    expectStatus(await repeatReader.statusAfterCancel('Repeat'), Status.CANCELLED, 'Repeat after cancel()');
    const afterRepeat = await waitForObservations(
      client,
      (o) => o.cancelled_by_client >= before.cancelled_by_client + 1,
      'server to observe the cancelled Repeat',
    );

    // grpc-js's cancel() on an open request stream sends END_STREAM and then RST_STREAM(CANCEL)
    // (Node's Http2Stream.close ends the writable side first). A server that answers the
    // half-close at once finishes before the reset arrives, so the cancellation must catch the
    // server with work outstanding: the client stops reading and asks for 10 MiB of answers,
    // which HTTP/2 flow control cannot deliver (grpc-js buffers ~16 messages plus one window).
    const chat = client.Chat();
    const chatReader = new StreamReader(chat);
    chat.write({ text: 'x1' });
    await chatReader.nextOrFail('Chat response 1');
    chat.pause();
    for (let i = 2; i <= 41; i++) chat.write({ text: `x${i}`, response_payload_bytes: 256 * 1024 });
    await sleep(300);
    chat.cancel();
    chat.resume();
    expectStatus(await chatReader.statusAfterCancel('Chat'), Status.CANCELLED, 'Chat after cancel()');
    const afterChat = await waitForObservations(
      client,
      (o) => o.cancelled_by_client >= afterRepeat.cancelled_by_client + 1,
      'server to observe the cancelled Chat',
    );
    return `cancelled_by_client ${before.cancelled_by_client} -> ${afterRepeat.cancelled_by_client} (Repeat) -> ${afterChat.cancelled_by_client} (Chat)`;
  },

  async error_status(ctx) {
    const client = ctx.echo();
    // Quote, non-ASCII, '/', '%' and a newline: all must survive grpc-message percent-encoding.
    const message = "channel 'ä/b' 100% missing\nsecond line";
    const notFound = await unary(client, 'Echo', { text: 'x', fail_with_code: 5, fail_message: message });
    expectStatus(notFound.error, Status.NOT_FOUND, 'fail_with_code 5');
    expectEqual(notFound.error.details, message, 'NOT_FOUND details');
    const unauthenticated = await unary(client, 'Echo', { text: 'x', fail_with_code: 16, fail_message: 'bad token' });
    expectStatus(unauthenticated.error, Status.UNAUTHENTICATED, 'fail_with_code 16');
    expectEqual(unauthenticated.error.details, 'bad token', 'UNAUTHENTICATED details');
    return 'NOT_FOUND and UNAUTHENTICATED with exact messages';
  },

  async large_message(ctx) {
    const client = ctx.echo();
    const tenMiB = patternBytes(10 * MiB);
    const echoed = await unaryOk(client, 'Echo', { text: 'large', payload: tenMiB });
    expectEqual(echoed.text, 'large', 'text');
    expectBytes(echoed.payload, tenMiB, 'echoed 10 MiB payload');
    const generated = await unaryOk(client, 'Echo', { text: 'large-response', response_payload_bytes: 10 * MiB });
    expectBytes(generated.payload, tenMiB, 'generated 10 MiB payload');
    return '10 MiB echoed and 10 MiB generated, byte-identical';
  },

  async compression(ctx) {
    // grpc-js gzip-compresses every request message; the server must see grpc-encoding: gzip and decompress.
    const client = ctx.echo({ 'grpc.default_compression_algorithm': 2 });
    const seen = await unaryOk(client, 'Echo', { text: 'encoding' });
    expectEqual(seen.text, 'gzip', 'grpc-encoding the server saw');
    const payload = Buffer.alloc(MiB, 'a');
    const response = await unaryOk(client, 'Echo', { text: 'gzip', payload });
    expectBytes(response.payload, payload, '1 MiB payload through gzip');
    return 'gzip-compressed requests decompressed, 1 MiB echoed exactly';
  },

  async oversize(ctx) {
    const client = ctx.echo();
    const { error } = await unary(client, 'Echo', { text: 'too big', payload: patternBytes(17 * MiB) });
    expectStatus(error, Status.RESOURCE_EXHAUSTED, 'Echo with a 17 MiB payload');
    const response = await unaryOk(client, 'Echo', { text: 'still alive' });
    expectEqual(response.text, 'still alive', 'Echo after the rejected call');
    return `RESOURCE_EXHAUSTED (${JSON.stringify(error.details)}), then the channel still works`;
  },

  async unimplemented(ctx) {
    const raw = (path) => ({
      path,
      requestStream: false,
      responseStream: false,
      requestSerialize: (bytes) => bytes,
      requestDeserialize: (bytes) => bytes,
      responseSerialize: (bytes) => bytes,
      responseDeserialize: (bytes) => bytes,
    });
    const Generic = grpc.makeGenericClientConstructor(
      { UnknownMethod: raw(`/${ECHO_SERVICE}/Nope`), UnknownService: raw('/no.such.Service/Method') },
      'Unimplemented',
    );
    const client = ctx.track(new Generic(ctx.target, grpc.credentials.createInsecure(), CHANNEL_OPTIONS));
    const method = await unary(client, 'UnknownMethod', Buffer.alloc(0));
    expectStatus(method.error, Status.UNIMPLEMENTED, `/${ECHO_SERVICE}/Nope`);
    const service = await unary(client, 'UnknownService', Buffer.alloc(0));
    expectStatus(service.error, Status.UNIMPLEMENTED, '/no.such.Service/Method');
    return 'unknown method and unknown service answer UNIMPLEMENTED';
  },

  reflection_v1: (ctx) => reflectionCheck(ctx, reflectionV1, 'grpc.reflection.v1.ServerReflection'),
  reflection_v1alpha: (ctx) => reflectionCheck(ctx, reflectionV1alpha, 'grpc.reflection.v1alpha.ServerReflection'),

  // grpc-reflection-js speaks v1alpha and resolves descriptors the way grpcurl does; finishing with a
  // call encoded from the reflected descriptors mimics `grpcurl -d ... EchoService/Echo`.
  async reflection_library(ctx) {
    const reflection = new reflectionJs.Client(ctx.target, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    ctx.track(reflection.grpcClient);
    const services = await reflection.listServices();
    for (const name of [ECHO_SERVICE, HEALTH_SERVICE]) {
      expect(services.includes(name), `listServices: ${name} missing from ${show(services)}`);
    }
    const root = await reflection.fileContainingSymbol(ECHO_SERVICE);
    const service = root.lookupService(ECHO_SERVICE);
    expectEqual(Object.keys(service.methods), ['Echo', 'Collect', 'Repeat', 'Chat', 'GetObservations'], 'methods');

    const requestType = root.lookupType('webhookconnect.testing.v1.EchoRequest');
    const responseType = root.lookupType('webhookconnect.testing.v1.EchoResponse');
    const Dynamic = grpc.makeGenericClientConstructor(
      {
        Echo: {
          path: `/${ECHO_SERVICE}/Echo`,
          requestStream: false,
          responseStream: false,
          requestSerialize: (message) => Buffer.from(requestType.encode(requestType.fromObject(message)).finish()),
          requestDeserialize: (bytes) => bytes,
          responseSerialize: (bytes) => bytes,
          responseDeserialize: (bytes) => responseType.toObject(responseType.decode(bytes)),
        },
      },
      'Dynamic',
    );
    const dynamic = ctx.track(new Dynamic(ctx.target, grpc.credentials.createInsecure(), CHANNEL_OPTIONS));
    const response = await unaryOk(dynamic, 'Echo', { text: 'via reflection' });
    expectEqual(response.text, 'via reflection', 'Echo through reflected descriptors');
    return `${services.length} services listed; EchoService resolved with 5 methods and called dynamically`;
  },

  async health(ctx) {
    const client = ctx.track(new healthPackage.Health(ctx.target, grpc.credentials.createInsecure(), CHANNEL_OPTIONS));
    const overall = await unaryOk(client, 'Check', { service: '' });
    expectEqual(overall.status, 'SERVING', 'Check("") status');
    const echo = await unaryOk(client, 'Check', { service: ECHO_SERVICE });
    expectEqual(echo.status, 'SERVING', `Check("${ECHO_SERVICE}") status`);
    const unknown = await unary(client, 'Check', { service: 'no.such.Service' });
    expectStatus(unknown.error, Status.NOT_FOUND, 'Check("no.such.Service")');

    const watch = client.Watch({ service: '' });
    const reader = new StreamReader(watch);
    const first = await reader.nextOrFail('Watch("") first message');
    expectEqual(first.status, 'SERVING', 'Watch("") first status');
    watch.cancel();
    expectStatus(await reader.statusAfterCancel('Watch'), Status.CANCELLED, 'Watch after cancel()');
    return 'Check "" and EchoService SERVING, unknown NOT_FOUND, Watch streams SERVING';
  },
};

/** Decodes serialized FileDescriptorProtos (field names are protobufjs's camelCase). */
function decodeFiles(response, what) {
  expectEqual(response.message_response, 'file_descriptor_response', `${what}: response kind`);
  const files = response.file_descriptor_response.file_descriptor_proto.map((bytes) => FileDescriptorProto.deserialize(bytes));
  expect(files.length >= 1, `${what}: no file_descriptor_proto returned`);
  return files;
}

function expectFileFor(response, fileName, what) {
  const files = decodeFiles(response, what);
  // Servers may append dependencies; the file asked for comes first.
  expectEqual(files[0].name, fileName, `${what}: first file name`);
  return files[0];
}

async function reflectionCheck(ctx, reflectionPackage, reflectionService) {
  const client = ctx.track(
    new reflectionPackage.ServerReflection(ctx.target, grpc.credentials.createInsecure(), CHANNEL_OPTIONS),
  );
  // One stream carries every request, as grpcurl does: answers must come back one per request, in order.
  const call = client.ServerReflectionInfo();
  const reader = new StreamReader(call);
  const ask = async (request, kind) => {
    call.write({ host: '', ...request });
    const response = await reader.nextOrFail(`answer to ${kind}`);
    expectEqual(response.original_request?.message_request, kind, `${kind}: original_request kind`);
    expectEqual(response.original_request[kind], request[kind], `${kind}: original_request value`);
    return response;
  };

  const list = await ask({ list_services: '*' }, 'list_services');
  expectEqual(list.message_response, 'list_services_response', 'list_services: response kind');
  const names = list.list_services_response.service.map((s) => s.name);
  for (const name of [ECHO_SERVICE, HEALTH_SERVICE, reflectionService]) {
    expect(names.includes(name), `list_services: ${name} missing from ${show(names)}`);
  }

  const echoFile = expectFileFor(
    await ask({ file_containing_symbol: ECHO_SERVICE }, 'file_containing_symbol'),
    'webhookconnect/testing/v1/echo.proto',
    `file_containing_symbol(${ECHO_SERVICE})`,
  );
  expectEqual(echoFile.package, 'webhookconnect.testing.v1', 'echo.proto package');
  const echoService = echoFile.service.find((s) => s.name === 'EchoService');
  expect(echoService, `echo.proto has no EchoService: ${show(echoFile.service.map((s) => s.name))}`);
  const type = (name) => `.webhookconnect.testing.v1.${name}`;
  expectEqual(
    echoService.method.map((m) => [m.name, m.inputType, m.outputType, m.clientStreaming, m.serverStreaming]),
    [
      ['Echo', type('EchoRequest'), type('EchoResponse'), false, false],
      ['Collect', type('EchoRequest'), type('CollectResponse'), true, false],
      ['Repeat', type('RepeatRequest'), type('EchoResponse'), false, true],
      ['Chat', type('EchoRequest'), type('EchoResponse'), true, true],
      ['GetObservations', type('GetObservationsRequest'), type('GetObservationsResponse'), false, false],
    ],
    'EchoService methods [name, input, output, client streaming, server streaming]',
  );

  // grpcurl's describe and invoke also look up methods, messages and nested enums by symbol.
  for (const [symbol, fileName] of [
    ['webhookconnect.testing.v1.EchoService.Echo', 'webhookconnect/testing/v1/echo.proto'],
    ['webhookconnect.testing.v1.EchoRequest', 'webhookconnect/testing/v1/echo.proto'],
    ['grpc.health.v1.HealthCheckResponse.ServingStatus', 'grpc/health/v1/health.proto'],
  ]) {
    expectFileFor(await ask({ file_containing_symbol: symbol }, 'file_containing_symbol'), fileName, `file_containing_symbol(${symbol})`);
  }

  const healthFile = expectFileFor(
    await ask({ file_by_filename: 'grpc/health/v1/health.proto' }, 'file_by_filename'),
    'grpc/health/v1/health.proto',
    'file_by_filename(grpc/health/v1/health.proto)',
  );
  expectEqual(healthFile.service.map((s) => s.name), ['Health'], 'health.proto services');

  const unknown = await ask({ file_containing_symbol: 'no.such.Symbol' }, 'file_containing_symbol');
  expectEqual(unknown.message_response, 'error_response', 'unknown symbol: response kind');
  expectEqual(unknown.error_response.error_code, Status.NOT_FOUND, 'unknown symbol: error_code');

  call.end();
  expectEqual(await reader.readAll(), [], 'messages after half-close');
  return `${names.length} services listed; echo.proto (5 methods), symbols, health.proto and NOT_FOUND correct`;
}

// ---------------------------------------------------------------------------------------------
// Runner.

function parseArgs(argv) {
  const args = { target: null, checks: Object.keys(checks), timeoutSeconds: 30 };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--target':
        args.target = value;
        i++;
        break;
      case '--checks':
        args.checks = value.split(',').map((name) => name.trim()).filter(Boolean);
        i++;
        break;
      case '--timeout-seconds':
        args.timeoutSeconds = Number(value);
        i++;
        break;
      default:
        usage(`unknown argument '${argv[i]}'`);
    }
  }
  if (!args.target) usage('--target is required');
  const unknown = args.checks.filter((name) => !Object.hasOwn(checks, name));
  if (unknown.length > 0 || args.checks.length === 0) usage(`unknown checks: ${unknown.join(',') || '(none selected)'}`);
  if (!(args.timeoutSeconds > 0)) usage('--timeout-seconds must be positive');
  return args;
}

function usage(problem) {
  console.error(`${problem}\nusage: node client.mjs --target HOST:PORT [--checks ${Object.keys(checks).join(',')}] [--timeout-seconds 30]`);
  process.exit(2);
}

function describeError(error) {
  if (error instanceof CheckFailed) return error.message;
  if (error && typeof error.code === 'number') return `unexpected status ${statusText(error.code)}: ${JSON.stringify(error.details)}`;
  return `unexpected error: ${error?.stack ?? error}`;
}

async function runCheck(name, target, timeoutSeconds) {
  const clients = [];
  const ctx = {
    target,
    track(client) {
      clients.push(client);
      return client;
    },
    echo(extraOptions = {}) {
      return this.track(new echoPackage.EchoService(target, grpc.credentials.createInsecure(), { ...CHANNEL_OPTIONS, ...extraOptions }));
    },
  };
  const started = Date.now();
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new CheckFailed(`timed out after ${timeoutSeconds} s`)), timeoutSeconds * 1000);
  });
  try {
    const detail = await Promise.race([checks[name](ctx), timeout]);
    return { check: name, ok: true, detail: `${detail} (${Date.now() - started} ms)` };
  } catch (error) {
    return { check: name, ok: false, detail: `${describeError(error)} (${Date.now() - started} ms)` };
  } finally {
    clearTimeout(timer);
    for (const client of clients) client.close();
  }
}

const args = parseArgs(process.argv.slice(2));
let passed = 0;
for (const name of args.checks) {
  const result = await runCheck(name, args.target, args.timeoutSeconds);
  if (result.ok) passed++;
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
const failed = args.checks.length - passed;
const summary = { summary: `${passed} passed, ${failed} failed`, passed, failed, ok: failed === 0 };
// Exit explicitly: a timed-out check may leave a call open that would keep the event loop alive.
process.stdout.write(`${JSON.stringify(summary)}\n`, () => process.exit(failed === 0 ? 0 : 1));
