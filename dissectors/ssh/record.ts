/** What SSH puts on the flow record: the `ssh` section (both banners) and its features. */
import { defineSection } from '../../src/contract/api.js';

export interface SshInfo {
  clientBanner: string | null;
  serverBanner: string | null;
}

export const sshSection = defineSection<SshInfo>({
  key: 'ssh',
  ecs(s, { ndr }) {
    ndr.ssh = { client_banner: s.clientBanner, server_banner: s.serverBanner };
  },
  proto: {
    type: 'ndr.v1.Ssh',
    ecs: { clientBanner: 'ndr.ssh.client_banner', serverBanner: 'ndr.ssh.server_banner' },
    toProto: (s) => ({ clientBanner: s.clientBanner ?? '', serverBanner: s.serverBanner ?? '' }),
  },
  features: () => ({ encryptedBy: 'ssh' }),
});
