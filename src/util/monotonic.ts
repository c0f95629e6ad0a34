// Durations and deadlines within this process are measured here, not with Date.now(). The wall clock steps — NTP
// correcting a VM after a pause or at boot, someone running `date`, a container host's clock fixed — by seconds to
// hours, either way, and a duration taken across a step is off by the whole step: backwards, an age that does not
// come and a timeout that does not fire for an hour; forwards, an hour of lag that never happened and deadlines that
// expire at once. Wall-clock time stays for what is recorded, shown or read by other hosts (receive and seal times,
// object keys, leases).

/**
 * Milliseconds since an arbitrary origin, on a clock that only moves forward at the rate of real time and ignores
 * wall-clock steps. Only differences between two readings mean anything; never store or show one.
 */
export function monotonicMs(): number {
  return performance.now();
}

/**
 * A monotonic reading on the epoch-ms scale: the wall clock at process start plus monotonic time since. For
 * interfaces that take an epoch-like `nowMs` only to subtract readings (alert windows). It drifts from the wall clock
 * by every step, so never record or show it as a time of day.
 */
export function steadyEpochMs(): number {
  return performance.timeOrigin + performance.now();
}
