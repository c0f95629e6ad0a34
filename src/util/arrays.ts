// Array helpers that work at any length. `Math.min(...values)` and `target.push(...values)` pass every element as a
// call argument and throw a RangeError past an engine limit (~120-150k in V8): an archive object can hold more
// requests than that.

/** The smallest `pick(item)`; `Infinity` for an empty array (as Math.min() gives). */
export function minOf<T>(items: readonly T[], pick: (item: T) => number): number {
  let min = Infinity;
  for (const item of items) {
    const value = pick(item);
    if (value < min) min = value;
  }
  return min;
}

/** The largest `pick(item)`; `-Infinity` for an empty array (as Math.max() gives). */
export function maxOf<T>(items: readonly T[], pick: (item: T) => number): number {
  let max = -Infinity;
  for (const item of items) {
    const value = pick(item);
    if (value > max) max = value;
  }
  return max;
}

/** Appends every item of `items` to `target`, in order. */
export function pushAll<T>(target: T[], items: readonly T[]): void {
  for (const item of items) target.push(item);
}
