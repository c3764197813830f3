/**
 * What QUIC puts on the flow record besides its TLS handshake (the `tls` section): the `quic`
 * section with the QUIC version.
 */
import { defineSection } from '../../src/contract/api.js';

export interface QuicInfo {
  version: string | null;
}

export const quicSection = defineSection<QuicInfo>({
  key: 'quic',
  ecs(q, { ndr }) {
    ndr.quic = { version: q.version };
  },
  proto: {
    type: 'ndr.v1.Quic',
    ecs: { version: 'ndr.quic.version' },
    toProto: (q) => ({ version: q.version ?? '' }),
  },
  features: () => ({ encryptedBy: 'quic' }),
});
