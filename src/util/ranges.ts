/**
 * Byte ranges held flat and sorted as [s0, e0, s1, e1, …] (half-open, disjoint): what a
 * reassembler has received of a message or stream.
 */

/** The ranges with [start, end) merged in; overlapping and touching ranges join. */
export function mergeRange(ranges: readonly number[], start: number, end: number): number[] {
  const out: number[] = [];
  let s = start;
  let e = end;
  let placed = false;
  for (let i = 0; i < ranges.length; i += 2) {
    const rs = ranges[i] as number;
    const re = ranges[i + 1] as number;
    if (re < s) {
      out.push(rs, re);
      continue;
    }
    if (rs > e) {
      if (!placed) {
        out.push(s, e);
        placed = true;
      }
      out.push(rs, re);
      continue;
    }
    s = Math.min(s, rs);
    e = Math.max(e, re);
  }
  if (!placed) out.push(s, e);
  return out;
}
