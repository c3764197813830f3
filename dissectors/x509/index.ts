/**
 * X.509 object dissector (STYLE.md §6.4): parse(der, limits) → X509Record | X509EventId.
 * Not a stream dissector: the engine's certificate cache calls it for each distinct DER.
 */
import { parseCertificate } from './certificate.js';
import { x509Events } from './events.js';
import { defaultX509Limits } from './types.js';

export { parseCertificate } from './certificate.js';
export { oidToString } from './der.js';
export { type X509EventId, x509Events } from './events.js';
export { defaultX509Limits, type X509Limits, type X509Record } from './types.js';

export const x509Dissector = {
  name: 'x509',
  apiVersion: 1,
  defaultLimits: defaultX509Limits,
  events: x509Events,
  parse: parseCertificate,
} as const;
