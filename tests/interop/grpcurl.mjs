// A small grpcurl look-alike built on @grpc/grpc-js and grpc-reflection-js (grpcurl itself is not installable
// here). It resolves everything through the server's reflection service, as grpcurl does, so the tests exercise
// exactly what an operator's `grpcurl -plaintext ...` needs.
//
//   node grpcurl.mjs [-H 'name: value']... [-d '{json}'] host:port list
//   node grpcurl.mjs ... host:port describe <service>
//   node grpcurl.mjs ... host:port <service>/<method>          (unary calls)
//
// Output: JSON on stdout (field names as in the .proto, defaults included, 64-bit integers as strings).
// A failed call prints "ERROR:\n  Code: <Name>\n  Message: <text>" on stderr and exits 1, as grpcurl does.
import grpc from '@grpc/grpc-js';
import reflectionJs from 'grpc-reflection-js';

const args = process.argv.slice(2);
const headers = [];
let data = '{}';
while (args.length > 0 && args[0].startsWith('-')) {
  const flag = args.shift();
  if (flag === '-H') headers.push(args.shift());
  else if (flag === '-d') data = args.shift();
  else if (flag === '-plaintext') continue;
  else fail(`unknown flag ${flag}`);
}
const [target, verb, symbol] = args;
if (!target || !verb) fail('usage: grpcurl.mjs [-H header]... [-d json] host:port list|describe <service>|<service>/<method>');

const reflection = new reflectionJs.Client(target, grpc.credentials.createInsecure());
try {
  if (verb === 'list') {
    for (const name of (await reflection.listServices()).sort()) console.log(name);
  } else if (verb === 'describe') {
    const root = await reflection.fileContainingSymbol(symbol);
    const service = root.lookupService(symbol);
    console.log(`${symbol} is a service:`);
    for (const [name, method] of Object.entries(service.methods)) {
      console.log(`  rpc ${name} ( ${method.requestType} ) returns ( ${method.responseType} );`);
    }
  } else {
    await call(verb);
  }
  process.exit(0);
} catch (error) {
  if (error.code !== undefined) {
    console.error(`ERROR:\n  Code: ${codeName(error.code)}\n  Message: ${error.details}`);
    process.exit(1);
  }
  fail(error.message ?? String(error));
}

async function call(fullMethod) {
  const slash = fullMethod.lastIndexOf('/');
  const serviceName = fullMethod.slice(0, slash);
  const methodName = fullMethod.slice(slash + 1);
  const root = await reflection.fileContainingSymbol(serviceName);
  const method = root.lookupService(serviceName).methods[methodName];
  if (!method) fail(`${serviceName} has no method ${methodName}`);
  const requestType = root.lookupType(method.requestType);
  const responseType = root.lookupType(method.responseType);
  const object = JSON.parse(data);
  const problem = requestType.verify(object);
  if (problem) fail(`invalid request JSON: ${problem}`);
  const metadata = new grpc.Metadata();
  for (const header of headers) {
    const colon = header.indexOf(':');
    metadata.add(header.slice(0, colon).trim().toLowerCase(), header.slice(colon + 1).trim());
  }
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  const print = (message) =>
    console.log(JSON.stringify(responseType.toObject(message, { longs: String, enums: String, bytes: String, defaults: true }), null, 2));
  if (method.responseStream) {
    // A server stream (TailChannel): each message as it comes, as grpcurl prints them, until the status.
    await new Promise((resolve, reject) => {
      const stream = client.makeServerStreamRequest(
        `/${serviceName}/${methodName}`,
        (message) => Buffer.from(requestType.encode(requestType.fromObject(message)).finish()),
        (bytes) => responseType.decode(bytes),
        object,
        metadata,
        { deadline: Date.now() + 30000 });
      stream.on('data', print);
      stream.on('error', reject);
      stream.on('end', resolve);
    });
    client.close();
    return;
  }
  const response = await new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      `/${serviceName}/${methodName}`,
      (message) => Buffer.from(requestType.encode(requestType.fromObject(message)).finish()),
      (bytes) => responseType.decode(bytes),
      object,
      metadata,
      { deadline: Date.now() + 30000 },
      (error, value) => (error ? reject(error) : resolve(value)));
  });
  print(response);
  client.close();
}

function codeName(code) {
  return Object.entries(grpc.status).find(([, value]) => value === code)?.[0]
    ?.toLowerCase().replace(/(^|_)([a-z])/g, (_, __, c) => c.toUpperCase()) ?? String(code);
}

function fail(message) {
  console.error(`grpcurl.mjs: ${message}`);
  process.exit(2);
}
