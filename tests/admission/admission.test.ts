// Admission refuses with OverloadedError carrying the reason (spool_full vs over_budget) and the retry delay, so
// the gRPC layer can answer UNAVAILABLE with RetryInfo and metrics can tell the two apart.
import { Admission } from '../../src/admission/admission.js';
import { OverloadedError } from '../../src/errors.js';

function refusal(admit: () => unknown): OverloadedError {
  try {
    admit();
  } catch (error) {
    expect(error).toBeInstanceOf(OverloadedError);
    return error as OverloadedError;
  }
  throw new Error('admitted');
}

test('over the in-flight budget: over_budget, with the configured delay and the budget in the message', () => {
  const admission = new Admission({ maxInFlightBytes: 1000, retryAfterMs: 1500, spoolHasRoomFor: () => true });
  const first = admission.admit(800);
  expect(admission.inFlightBytes).toBe(800);
  const error = refusal(() => admission.admit(300));
  expect(error.reason).toBe('over_budget');
  expect(error.retryAfterMs).toBe(1500);
  expect(error.message).toMatch(/budget 1000 bytes/);
  expect(error.message).toMatch(/retry later/);
  expect(admission.inFlightBytes).toBe(800);
  first.release();
  expect(admission.inFlightBytes).toBe(0);
  admission.admit(300).release();
});

test('spool without room: spool_full, checked before the budget and taking nothing from it', () => {
  let room = true;
  const asked: number[] = [];
  const admission = new Admission({
    maxInFlightBytes: 1000,
    retryAfterMs: 250,
    spoolHasRoomFor: (bytes) => {
      asked.push(bytes);
      return room;
    },
  });
  const held = admission.admit(900);
  room = false;
  // Would also be over budget: the spool reason wins, since it says what the operator must look at.
  const error = refusal(() => admission.admit(500));
  expect(error.reason).toBe('spool_full');
  expect(error.retryAfterMs).toBe(250);
  expect(error.message).toMatch(/spool is full/);
  expect(error.message).toMatch(/blob store or index/);
  expect(asked).toEqual([900, 500]);
  expect(admission.inFlightBytes).toBe(900);
  held.release();
  room = true;
  expect(admission.admit(500)).toBeDefined();
  expect(admission.inFlightBytes).toBe(500);
});

test('a single request larger than the budget is admitted when nothing is in flight', () => {
  const admission = new Admission({ maxInFlightBytes: 100, retryAfterMs: 1000, spoolHasRoomFor: () => true });
  const big = admission.admit(10_000);
  expect(admission.inFlightBytes).toBe(10_000);
  expect(refusal(() => admission.admit(1)).reason).toBe('over_budget');
  big.release();
  big.release();
  expect(admission.inFlightBytes).toBe(0);
});

describe('admission at the headers, before a body is read', () => {
  const make = (maxInFlightBytes: number, room = true) =>
    new Admission({ maxInFlightBytes, retryAfterMs: 750, spoolHasRoomFor: () => room });

  test('an idle server always lets one body in, however large the expected size', () => {
    const admission = make(1);
    const end = admission.beginReceive();
    end();
    end(); // ending twice is harmless
    expect(() => admission.beginReceive()).not.toThrow();
  });

  test('bodies on their way count against the budget at the expected (average) size', () => {
    const admission = make(1000);
    admission.admit(400).release(); // teaches the expected size (moving average towards 400)
    const ends: (() => void)[] = [];
    let refused: unknown;
    for (let i = 0; i < 100 && refused === undefined; i++) {
      try {
        ends.push(admission.beginReceive());
      } catch (error) {
        refused = error;
      }
    }
    expect(refused).toBeInstanceOf(OverloadedError);
    expect(refused).toMatchObject({ reason: 'over_budget', retryAfterMs: 750 });
    expect(ends.length).toBeGreaterThanOrEqual(1);
    for (const end of ends) end();
    expect(() => admission.beginReceive()).not.toThrow();
  });

  test('a full spool refuses at the headers with reason spool_full', () => {
    expect(() => make(1 << 20, false).beginReceive()).toThrow(expect.objectContaining({ reason: 'spool_full' }));
  });
});

describe('the expected size of a body not yet read', () => {
  const make = (maxInFlightBytes: number) =>
    new Admission({ maxInFlightBytes, retryAfterMs: 500, spoolHasRoomFor: () => true });
  const admittedAtHeaders = (admission: Admission): number => {
    const ends: (() => void)[] = [];
    try {
      for (let i = 0; i < 1000; i++) ends.push(admission.beginReceive());
    } catch {
      // refused: the budget is taken
    }
    for (const end of ends) end();
    return ends.length;
  };

  test('before any request was seen, a start-up burst gets only a few bodies in (assumed 4 MiB each)', () => {
    expect(admittedAtHeaders(make(64 * 2 ** 20))).toBe(16);
  });

  test('the first admitted size replaces the guess at once, then sizes move the average', () => {
    const admission = make(64 * 2 ** 20);
    admission.admit(2 ** 20).release();
    expect(admittedAtHeaders(admission)).toBe(64);
    for (let i = 0; i < 50; i++) admission.admit(2 ** 19).release();
    expect(admittedAtHeaders(admission)).toBeGreaterThan(100);
  });
});

test('the start-up guess does not make a small spool refuse before any request was seen', () => {
  const room = 1 << 20;
  const admission = new Admission({ maxInFlightBytes: 64 * 2 ** 20, retryAfterMs: 500, spoolHasRoomFor: (bytes) => bytes <= room });
  expect(admission.spoolRefusing()).toBe(false);
  expect(() => admission.beginReceive()()).not.toThrow();
  admission.admit(100_000).release();
  expect(admission.spoolRefusing()).toBe(false);
});

test('hold(): work before a request is admitted (OTLP JSON) takes budget, is refused before it is done, and is not "something else" for the same request', () => {
  const admission = new Admission({ maxInFlightBytes: 1000, retryAfterMs: 500, spoolHasRoomFor: () => true });
  // Alone, even a body larger than the budget is held; its protobuf is then admitted beside it.
  const json = admission.hold(3000);
  expect(admission.inFlightBytes).toBe(3000);
  const proto = admission.admit(1200, 3000);
  expect(admission.inFlightBytes).toBe(4200);
  // Anything else now is refused — another request's JSON before it is parsed, or another protobuf.
  expect(refusal(() => admission.hold(10)).reason).toBe('over_budget');
  expect(refusal(() => admission.admit(10)).reason).toBe('over_budget');
  proto.release();
  json.release();
  expect(admission.inFlightBytes).toBe(0);
  // A held body does not make a request of its own: the size estimate stays with admit().
  const a = admission.hold(600);
  expect(refusal(() => admission.hold(600)).message).toMatch(/budget 1000 bytes/);
  a.release();
});
