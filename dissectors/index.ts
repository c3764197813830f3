/**
 * The explicit, ordered list of dissectors (the registration point). Probe order within a
 * transport follows this list after port hints. Add a dissector here and nowhere else.
 */
import type { AnyDissectorSpec } from '../src/dissect/api.js';
import { tlsDissector } from './tls/index.js';
import { httpSpec } from './http/index.js';
import { mqttDissector } from './mqtt/index.js';
import { quicDissector } from './quic/index.js';

export const dissectorSpecs: readonly AnyDissectorSpec[] = [
  tlsDissector,
  mqttDissector,
  httpSpec,
  quicDissector,
];
