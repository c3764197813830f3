/** app.* events raised by the driver (STYLE.md rule 5). */
export const AppEvent = {
  dissectorFault: 'app.dissector_fault',
  aborted: 'app.dissector_aborted',
  probeExhausted: 'app.probe_exhausted',
  tooManyRecords: 'app.limit.records',
} as const;
