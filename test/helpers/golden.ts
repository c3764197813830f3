// The captures the golden files cover and how they are replayed: a `<name>.sysmon.jsonl` (or
// `sysmon.jsonl` in the folder) beside a capture goes to the embedded EDR, JA4+ is on for folders
// with a `ja4plus` marker file, and an `analytics-config.json` in the folder configures the analytics.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { replayFiles } from '../../src/runtime/replay.js';

export const pcapRoot = join(dirname(new URL(import.meta.url).pathname), '..', '..', 'pcaps');

/** Every capture under dir (pcaps/bench, the big generated ones, left out). */
export function* captures(dir: string = pcapRoot): Generator<string> {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) { if (e !== 'bench') yield* captures(p); }
    else if (/\.(pcap|pcapng|cap)$/.test(e)) yield p;
  }
}

export const expectedPath = (capture: string, suffix = 'expected'): string => capture.replace(/\.(pcap|pcapng|cap)$/, `.${suffix}.jsonl`);

export function replayCapture(capture: string): ReturnType<typeof replayFiles> {
  const stem = capture.replace(/\.(pcap|pcapng|cap)$/, '');
  const sysmon = [`${stem}.sysmon.jsonl`, join(dirname(capture), 'sysmon.jsonl')].filter(existsSync);
  const ja4Plus = existsSync(join(dirname(capture), 'ja4plus'));
  const cfgFile = join(dirname(capture), 'analytics-config.json');
  const analyticsConfig = existsSync(cfgFile) ? (JSON.parse(readFileSync(cfgFile, 'utf8')) as { analytics: unknown }).analytics : undefined;
  return replayFiles([capture], { ja4Plus, ...(analyticsConfig !== undefined ? { analyticsConfig } : {}), ...(sysmon.length > 0 ? { sysmon: [sysmon[0] as string] } : {}) });
}
