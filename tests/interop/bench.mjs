// Load generator for the transport benchmark (tests/Benchmarks/Transport): @grpc/grpc-js drives the echo
// service so our server's rate can be read beside an independent client's. Not a test.
//
// Usage: node bench.mjs --target 127.0.0.1:PORT --mode bidi|unary [--seconds 5] [--concurrency 64]
// Prints one line: "<rate> msg/s" (bidi, echoed 200-byte messages) or "<rate> calls/s" (unary).
import grpc from '@grpc/grpc-js';
import { loadProto } from './protos.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []));
const target = args.target;
const mode = args.mode ?? 'bidi';
const seconds = Number(args.seconds ?? 5);
const concurrency = Number(args.concurrency ?? 64);
if (!target || !['bidi', 'unary'].includes(mode)) {
  console.error('usage: node bench.mjs --target HOST:PORT --mode bidi|unary [--seconds 5] [--concurrency 64]');
  process.exit(2);
}

const { EchoService } = loadProto('webhookconnect/testing/v1/echo.proto').webhookconnect.testing.v1;
const client = new EchoService(target, grpc.credentials.createInsecure());
const payload = Buffer.alloc(200);
const stopAt = Date.now() + seconds * 1000;
const started = process.hrtime.bigint();
let count = 0;

function elapsedSeconds() {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function bidi() {
  // One stream; the writer keeps at most `window` requests unanswered, like the C# measurement.
  const window = 256;
  await new Promise((resolve, reject) => {
    const call = client.Chat();
    let outstanding = 0;
    let ended = false;
    const pump = () => {
      while (!ended && outstanding < window) {
        if (Date.now() >= stopAt) {
          ended = true;
          call.end();
          return;
        }
        outstanding++;
        call.write({ payload });
      }
    };
    call.on('data', () => {
      count++;
      outstanding--;
      pump();
    });
    call.on('end', resolve);
    call.on('error', reject);
    pump();
  });
}

async function unary() {
  const one = () => new Promise((resolve, reject) => client.Echo({ payload }, (error) => (error ? reject(error) : resolve())));
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < stopAt) {
      await one();
      count++;
    }
  }));
}

await (mode === 'bidi' ? bidi() : unary());
const rate = count / elapsedSeconds();
console.log(`${Math.round(rate).toLocaleString('en-US').padStart(12)} ${mode === 'bidi' ? 'msg/s' : 'calls/s'}`);
client.close();
