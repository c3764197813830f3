// IPv4 address text as an integer key, shared by the tables that hold addresses as numbers.

/**
 * The 32-bit value of a dotted-quad IPv4 address in canonical form ('10.0.0.7': four decimal
 * parts of 0-255, no leading zeros, nothing else: the one way the decoder writes it), or -1 for
 * any other text. Tables keyed by this integer in place of the text (the DNS names cache, the
 * analytics' host tables) rely on it being one to one on what it accepts: '10.0.0.07' must stay a
 * key of its own, as it was as text.
 */
export function parseIpv4(s: string): number {
  const n = s.length;
  if (n < 7 || n > 15) return -1;
  let v = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      v = v * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && part === 0) return -1; // a leading zero
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
      digits++;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return v * 256 + part;
}
