/**
 * Whether a TLS server_name is a host name as RFC 6066 §3 asks ("the fully qualified DNS hostname
 * of the server, as understood by the client"): ASCII labels of letters, digits, hyphens (and the
 * underscores real names carry) of 1-63 characters, at most 253 in all, no empty label and no
 * trailing dot. Anything else (control characters, spaces, UTF-8 that was not turned into
 * A-labels) did not come from an ordinary client and is flagged on the flow rather than trusted
 * as a destination name.
 */
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

export function isValidHostName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  for (const label of name.split('.')) if (!LABEL.test(label)) return false;
  return true;
}
