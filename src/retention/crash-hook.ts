// TEST-ONLY fault injection: OTLP_CAPTURE_RETENTION_CRASH_AT=<point>:<n> kills the process (SIGKILL, nothing runs
// after it: no finally, no flush) the n-th time a retention run reaches <point>. Crash tests use it to stop a run
// at exact places between its steps, deterministically, which timed SIGKILLs cannot. Unset, it costs one
// comparison per step. Points: see CRASH_POINTS.
export const CRASH_ENV = 'OTLP_CAPTURE_RETENTION_CRASH_AT';

export const CRASH_POINTS = [
  'delete', // entry written, index row not removed yet
  'index-deleted', // index row removed, blob still there
  'copy', // entry written, new object not written yet
  'copied', // new object written, index not switched
  'switch', // entry at switch, replaceObject not called yet
  'replaced', // index points at the new object, entry still at switch
  'cleanup', // entry at cleanup, old object still there
  'source-deleted', // old object gone, entry not removed yet
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

export type CrashHook = (point: CrashPoint) => void;

export const noCrash: CrashHook = () => undefined;

/** The hook the environment asks for (a no-op when the variable is unset). */
export function crashHookFromEnv(env: NodeJS.ProcessEnv = process.env): CrashHook {
  const spec = env[CRASH_ENV];
  if (spec === undefined || spec === '') return noCrash;
  const match = /^([a-z-]+):(\d+)$/.exec(spec);
  if (!match || !(CRASH_POINTS as readonly string[]).includes(match[1]!)) {
    throw new Error(`${CRASH_ENV} must be <point>:<n> with point one of ${CRASH_POINTS.join(', ')}`);
  }
  const target = match[1] as CrashPoint;
  let left = Number(match[2]);
  return (point) => {
    if (point !== target) return;
    left -= 1;
    if (left <= 0) {
      process.stderr.write(`otlp-capture: ${CRASH_ENV}: killing the process at ${point}\n`);
      process.kill(process.pid, 'SIGKILL');
    }
  };
}
