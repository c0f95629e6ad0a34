// Length-prefixed gRPC messages split across chunks at every possible boundary, and the limits on their size.
import fc from 'fast-check';
import { FramingError, MessageDeframer, frameMessage, peekFrameHeader } from '../../../src/receiver/grpc/message-framing.js';

function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, point));
    from = point;
  }
  return chunks;
}

test('messages come out whole and in order however the body is chunked', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 5 }), fc.array(fc.nat(), { maxLength: 20 }), (messages, cuts) => {
      const body = Buffer.concat(messages.map((m) => frameMessage(m)));
      const deframer = new MessageDeframer(1000);
      const out = splitAt(body, cuts).flatMap((chunk) => deframer.push(chunk));
      expect(out.map((m) => Buffer.from(m.bytes).toString('hex'))).toEqual(messages.map((m) => Buffer.from(m).toString('hex')));
      expect(out.every((m) => !m.compressed)).toBe(true);
      expect(deframer.midMessage).toBe(false);
    }),
  );
});

test('the compressed flag is kept; a body that stops inside a message says so', () => {
  const deframer = new MessageDeframer(100);
  const compressed = Buffer.from([1, 0, 0, 0, 3, 9, 9, 9]);
  expect(deframer.push(compressed)).toEqual([{ compressed: true, bytes: Buffer.from([9, 9, 9]) }]);
  expect(deframer.push(Buffer.from([0, 0, 0]))).toEqual([]);
  expect(deframer.midMessage).toBe(true);
});

test('a length over the limit is refused from the header, before the message is buffered', () => {
  const deframer = new MessageDeframer(10);
  const header = Buffer.from([0, 0, 0, 0, 11]);
  expect(() => deframer.push(header)).toThrow(FramingError);
  expect(() => new MessageDeframer(10).push(header)).toThrow(/11 bytes is larger than the limit of 10 bytes/);
  expect(new MessageDeframer(11).push(Buffer.concat([header, Buffer.alloc(11)]))).toHaveLength(1);
});

test('a flag byte other than 0 or 1 is a framing error', () => {
  expect(() => new MessageDeframer(10).push(Buffer.from([2, 0, 0, 0, 0]))).toThrow(/invalid gRPC message flag 2/);
});

test('peekFrameHeader reads the header across chunks and needs all 5 bytes', () => {
  expect(peekFrameHeader([])).toBeNull();
  expect(peekFrameHeader([Buffer.from([1, 0]), Buffer.from([0, 1])])).toBeNull();
  expect(peekFrameHeader([Buffer.from([1, 0]), Buffer.from([0, 1]), Buffer.from([2, 77])])).toEqual({ compressed: true, length: 258 });
  expect(() => peekFrameHeader([Buffer.from([5, 0, 0, 0, 0])])).toThrow(FramingError);
});
