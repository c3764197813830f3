/**
 * JSON text of strings as the ECS output writes them: JSON.stringify's escapes plus the characters
 * a terminal or a log viewer acts on. Shared by the JSON writer and by section writers that build
 * a list's JSON text themselves.
 */

/**
 * Characters JSON.stringify leaves as they are but a terminal or a log viewer acts on: DEL, C1
 * controls (CSI, OSC…), bidi overrides and invisible characters. Written as \\u escapes so JSON
 * lines shown on a terminal stay inert.
 */
export const TERMINAL_UNSAFE = /[\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/;
const TERMINAL_UNSAFE_ALL = new RegExp(TERMINAL_UNSAFE.source, 'g');

/** JSON text with the terminal-unsafe characters escaped too. */
export function terminalSafeJson(json: string): string {
  return TERMINAL_UNSAFE.test(json) ? json.replace(TERMINAL_UNSAFE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : json;
}

/**
 * Anything a string may need escaped: JSON's own (quote, backslash, C0), the terminal-unsafe set,
 * and surrogates (a lone one is escaped by JSON.stringify; a pair takes the slow path harmlessly).
 * Almost every value on the wire (addresses, hashes, names) has none of these, so one test decides.
 */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]/;

export function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? terminalSafeJson(JSON.stringify(s)) : `"${s}"`;
}

/** Constant JSON text as bytes for a writer's byte runs: ASCII only, as a document's keys and punctuation are. */
export function asciiBytes(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) throw new Error(`asciiBytes: not ASCII: ${JSON.stringify(s)}`);
    b[i] = c;
  }
  return b;
}
