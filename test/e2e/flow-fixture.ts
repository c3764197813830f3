import type { FlowRecord } from '../../src/flow/record.js';
import { emptyDir } from '../../src/flow/record.js';

/** A minimal FlowRecord for a tuple (enrichment reads only the tuple, start and community id). */
export function flowFor(id: number, startTs: number, cIp: string, cPort: number, sIp: string, sPort: number, transport: 'tcp' | 'udp' = 'tcp'): FlowRecord {
  return {
    kind: 'flow',
    id,
    communityId: '',
    transport,
    ipVersion: cIp.includes(':') ? 6 : 4,
    client: { ip: cIp, port: cPort },
    server: { ip: sIp, port: sPort },
    vlan: 0,
    tunnelDepth: 0,
    startTs,
    endTs: startTs,
    endReason: 'eof',
    dirs: [emptyDir(), emptyDir()],
    byteRatio: null,
    directionFromSyn: true,
    protocol: null,
    events: [],
    limits: [],
    tls: null,
    mqtt: null,
    amqp: null,
    http: null,
    dns: null,
    ssh: null,
    quic: null,
    dnsName: null,
    entropy: [null, null],
    smallRecords: [
      { ts: [], sizes: [] },
      { ts: [], sizes: [] },
    ],
    pubsub: null,
    encrypted: null,
    beacon: null,
    ja4t: null,
    ja4ts: null,
    attribution: null,
  };
}
