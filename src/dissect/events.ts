/** app.* events raised by the driver (STYLE.md rule 5). */
export const AppEvent = {
  dissectorFault: 'app.dissector_fault',
  aborted: 'app.dissector_aborted',
  probeExhausted: 'app.probe_exhausted',
  tooManyRecords: 'app.limit.records',
} as const;

export const appEventCatalog = {
  'app.dissector_fault': { severity: 'anomaly', summary: 'a dissector threw: a bug, the dissector was stopped on this flow' },
  'app.dissector_aborted': { severity: 'anomaly', summary: 'a dissector could not continue on this flow' },
  'app.probe_exhausted': { severity: 'info', summary: 'no dissector recognised the flow within the probe budget' },
  'app.limit.records': { severity: 'limit', summary: 'a dissector emitted more records than the per-flow limit' },
} as const;
