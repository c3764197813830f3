/**
 * The explicit, ordered list of dissectors (the registration point). Probe order within a
 * transport follows this list after port hints. Add a dissector here and nowhere else.
 */
import type { AnyDissectorSpec } from '../src/contract/api.js';
import { tlsDissector } from './tls/index.js';
import { mqttDissector } from './mqtt/index.js';
import { amqpDissector } from './amqp/index.js';
import { httpSpec } from './http/index.js';
import { sshSpec } from './ssh/index.js';
import { dnsSpec, dnsTcpSpec } from './dns/index.js';
import { quicDissector } from './quic/index.js';
import { dtlsDissector } from './dtls/index.js';
import { webrtcDissector } from './webrtc/index.js';
import { starttlsSpecs } from './starttls/index.js';

export const dissectorSpecs: readonly AnyDissectorSpec[] = [
  // TCP
  tlsDissector,
  mqttDissector,
  amqpDissector,
  httpSpec,
  sshSpec,
  dnsTcpSpec,
  ...starttlsSpecs,
  // UDP
  quicDissector,
  dtlsDissector,
  webrtcDissector,
  dnsSpec,
];
