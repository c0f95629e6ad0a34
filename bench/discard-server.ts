// The baseline: a bare grpc-js server that acknowledges every trace Export and drops it. Same service definition
// (identity deserializer: the handler gets the raw, already gunzipped bytes) and the same receive limit as
// `otlp-capture serve`, so what the capture server adds on top is exactly its own work.
// Usage: node discard-server.js HOST:PORT MAX_RECEIVE_BYTES — prints {"listening":PORT} once bound.
import * as grpc from '@grpc/grpc-js';
import { EMPTY_EXPORT_RESPONSE, otlpServiceDefinition } from '../src/grpc/otlp-services.js';

const [address = '127.0.0.1:0', maxReceive = String(64 * 2 ** 20)] = process.argv.slice(2);
const maxReceiveBytes = Number(maxReceive);

const server = new grpc.Server({
  'grpc.max_receive_message_length': maxReceiveBytes,
  'grpc.max_send_message_length': Math.max(maxReceiveBytes, 64 * 2 ** 20),
});
const discard: grpc.handleUnaryCall<Buffer, Buffer> = (_call, callback) => callback(null, EMPTY_EXPORT_RESPONSE);
server.addService(otlpServiceDefinition('traces'), { Export: discard });
server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) {
    process.stderr.write(`discard server cannot listen on ${address}: ${error.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ listening: port })}\n`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
