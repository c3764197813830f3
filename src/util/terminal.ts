/**
 * What the CLI prints to a terminal. Strings from the wire (SNI, HTTP Host, MQTT client ids…) and
 * from logs (Sysmon host, user and image names) are attacker-controlled: an ESC or a C1 control
 * starts a terminal command (clear the screen, move the cursor, set the title, write a hyperlink),
 * a bidi override or isolate reorders what follows, and invisible format characters hide text.
 * Every such character is shown as a visible escape instead, so a line can only say what its
 * bytes say. JSON output needs none of this: JSON.stringify escapes control characters, and JSON
 * is for programs.
 */

/**
 * Control characters (C0, DEL, C1: ESC and CSI/OSC introducers among them), format characters
 * (bidi embeddings, overrides and isolates, zero-width characters, soft hyphen, tag characters),
 * line and paragraph separators, lone surrogates, and the few letters that render as nothing
 * (Hangul fillers, the combining grapheme joiner, Khmer inherent vowels, variation selectors).
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u034F\u115F\u1160\u17B4\u17B5\u180B-\u180F\u3164\uFE00-\uFE0F\uFFA0]/u;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'gu');

function escapeChar(c: string): string {
  const cp = c.codePointAt(0) ?? 0;
  return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u{${cp.toString(16)}}`;
}

/** `s` with every character that could act on a terminal (or hide text) written as \xHH or \u{H…}. */
export function termSafe(s: string): string {
  return UNSAFE.test(s) ? s.replace(UNSAFE_ALL, escapeChar) : s;
}

/** One line for stderr: escaped as a whole, so an embedded newline cannot forge a second line. */
export function stderrLine(line: string): void {
  process.stderr.write(`${termSafe(line)}\n`);
}
