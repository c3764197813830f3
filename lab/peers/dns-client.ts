/**
 * Node's resolver (c-ares) against the lab DNS server (client namespace). argv: server address.
 * Asks A, AAAA, a CNAME, an NXDOMAIN and a name whose UDP answer is truncated (so it retries over
 * TCP), and prints what it got as JSON.
 */
import { promises as dns } from 'node:dns';
import { DNS_NAMES } from './misc-names.js';

const r = new dns.Resolver({ timeout: 2000, tries: 2 });
r.setServers([process.argv[2] ?? '']);
const out: Record<string, unknown> = {};
out['a'] = await r.resolve4(DNS_NAMES.a, { ttl: true });
out['aaaa'] = await r.resolve6(DNS_NAMES.a);
out['www'] = await r.resolve4(DNS_NAMES.cname);
try { await r.resolve4(DNS_NAMES.nx); out['nx'] = 'resolved?'; } catch (e) { out['nx'] = (e as NodeJS.ErrnoException).code; }
out['big'] = (await r.resolve4(DNS_NAMES.tcp)).length;
console.log(JSON.stringify(out));
