/**
 * Classification's cost per call, in process: the driver probing a stream's first bytes with the
 * lead tables (the probes a first byte allows) beside a registry that calls every probe in
 * order, each also with ten more dissectors registered whose leads exclude those bytes. With the
 * tables the figure should not move when dissectors are added; calling every probe it grows.
 * Probing only: each case's bytes leave the flow unclassified (an HTTP head not yet ended keeps
 * MQTT's WebSocket probe unsure, so HTTP's 'yes' waits), so no dissector is created.
 */
import type { AnyDissectorSpec } from '../src/contract/api.js';
import { Driver, type DriverHost } from '../src/dissect/driver.js';
import { Registry } from '../src/dissect/registry.js';
import { AppState, Flow } from '../src/flow/flow.js';
import { dissectorSpecs } from '../dissectors/index.js';
import { rdpSpec } from '../dissectors/starttls/index.js';

export interface ClassifyRow {
  readonly label: string;
  /** Nanoseconds per classify call, the best pass of each registry. */
  readonly every: number;
  readonly leads: number;
  readonly everyPlus10: number;
  readonly leadsPlus10: number;
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

const CASES: readonly { label: string; port: number; bytes: Uint8Array }[] = [
  { label: 'an HTTP request head (to :8080)', port: 8080, bytes: ascii('GET /status HTTP/1.1\r\nHost: svc\r\n') },
  { label: 'bytes no probe claims (to :9999)', port: 9999, bytes: Uint8Array.from({ length: 100 }, (_, i) => (i * 37 + 11) & 0xff) },
];

/** The engine's side of the driver; probing alone reaches none of it. */
const host: DriverHost = {
  now: 0,
  handoffCert: () => undefined,
  payloadStart: () => undefined,
  finish: () => undefined,
  finishDir: () => undefined,
  dissectorEvent: () => undefined,
  recordTap: () => undefined,
  exchangesDone: () => undefined,
};

export function benchClassify(passes = 15, calls = 200_000): ClassifyRow[] {
  // Ten more client-first binary dissectors (copies of RDP's: first byte 3), as a larger registry would have.
  const more: AnyDissectorSpec[] = [...dissectorSpecs, ...Array.from({ length: 10 }, (_, i) => ({ ...rdpSpec, name: `rdp-copy-${i}` }))];
  const drivers = [
    new Driver(new Registry(dissectorSpecs, {}, { leads: false }), host),
    new Driver(new Registry(dissectorSpecs), host),
    new Driver(new Registry(more, {}, { leads: false }), host),
    new Driver(new Registry(more), host),
  ];
  const f = new Flow();
  f.proto = 6;
  f.aPort = 30001;
  f.directionFromSyn = true;
  const rows: ClassifyRow[] = [];
  for (const c of CASES) {
    f.bPort = c.port;
    const best = drivers.map(() => Infinity);
    for (let p = 0; p < passes; p++) {
      drivers.forEach((d, k) => {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < calls; i++) {
          f.probeNo = 0;
          f.app = AppState.Unclassified;
          d.classify(f, 0, c.bytes);
        }
        best[k] = Math.min(best[k] as number, Number(process.hrtime.bigint() - t0) / calls);
        if (f.app === AppState.Attached) throw new Error(`bench classify: ${c.label} attached ${String(f.protocol)}; the case must stay unclassified`);
      });
    }
    rows.push({ label: c.label, every: best[0] as number, leads: best[1] as number, everyPlus10: best[2] as number, leadsPlus10: best[3] as number });
  }
  return rows;
}

export function classifyLines(rows: readonly ClassifyRow[]): string[] {
  const ns = (x: number): string => `${x.toFixed(0)} ns`;
  return rows.map((r) => `${r.label}: every probe ${ns(r.every)}, by lead bytes ${ns(r.leads)}; with 10 more dissectors ${ns(r.everyPlus10)} and ${ns(r.leadsPlus10)}`);
}
