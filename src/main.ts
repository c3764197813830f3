/**
 * ndr-sensor CLI entry. Commands:
 *   replay FILE... | -     capture files (or stdin) → flow and alert records
 *   demo                   replay the shipped demo scenario through the embedded EDR
 *   run                    live capture (eBPF feed, libpcap fallback) with a config file
 *   edr serve              the reference EDR (Sysmon-backed) over gRPC
 *   siem serve             the reference SIEM collector over gRPC
 *   baseline learn         prime the baseline store from a replay
 *   fleet show             what a fleet shares in its Redis store (beacon scores, alerts with counts)
 * Exit codes: 0 ok; 1 fatal error (unreadable input, not a capture, bad config); 2 usage error;
 * 3 finished, but the input was damaged (e.g. a capture cut short: every complete packet was used).
 */
import { commands } from './cli/commands.js';
import { runCli } from './cli/dispatch.js';

export function main(argv: string[]): Promise<number> {
  return runCli('ndr-sensor', commands, argv);
}

const isEntry = process.argv[1] !== undefined && /ndr-sensor(\.mjs|\.cjs|-main\.cjs)?$|main\.(ts|js)$/.test(process.argv[1]);
if (isEntry) {
  // A fatal or usage error ends the process even if a library left a handle open (a listener, a
  // channel, a child): a supervisor must see the exit to restart us. The timer is unref'd, so a
  // clean run exits by itself at once and the timer never fires.
  const fatal = (code: number): void => { if (code === 1 || code === 2) setTimeout(() => process.exit(code), 500).unref(); };
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; fatal(code); },
    (e: unknown) => { process.stderr.write(`ndr-sensor: ${(e as Error).message}\n`); process.exitCode = 1; fatal(1); },
  );
}
