/**
 * X.509 object dissector (STYLE.md §6.4): parseCertificate(der, limits) → X509Record | X509EventId.
 * Not a stream dissector: the engine's certificate cache calls it for each distinct DER.
 */
export { parseCertificate } from './certificate.js';
export { oidToString } from './der.js';
export { type X509EventId, x509Events } from './events.js';
export { defaultX509Limits, type X509Limits, type X509Record } from './types.js';
