/**
 * The ATT&CK objects the five analytics name: technique and sub-technique names and the tactics
 * each belongs to (ATT&CK Enterprise), so an alert can carry the ECS threat.* fields a SIEM
 * filters on without a lookup of its own. An analytic's page is its rule.reference.
 */

export interface Tactic { readonly id: string; readonly name: string }
export interface Technique { readonly id: string; readonly name: string; readonly tactics: readonly Tactic[] }

const C2: Tactic = { id: 'TA0011', name: 'Command and Control' };
const EXFIL: Tactic = { id: 'TA0010', name: 'Exfiltration' };
const COLLECTION: Tactic = { id: 'TA0009', name: 'Collection' };
const EVASION: Tactic = { id: 'TA0005', name: 'Defense Evasion' };

const TECHNIQUES: Readonly<Record<string, Technique>> = {
  T1071: { id: 'T1071', name: 'Application Layer Protocol', tactics: [C2] },
  'T1071.001': { id: 'T1071.001', name: 'Web Protocols', tactics: [C2] },
  T1573: { id: 'T1573', name: 'Encrypted Channel', tactics: [C2] },
  'T1573.001': { id: 'T1573.001', name: 'Symmetric Cryptography', tactics: [C2] },
  'T1573.002': { id: 'T1573.002', name: 'Asymmetric Cryptography', tactics: [C2] },
  T1090: { id: 'T1090', name: 'Proxy', tactics: [C2] },
  T1218: { id: 'T1218', name: 'System Binary Proxy Execution', tactics: [EVASION] },
  T1048: { id: 'T1048', name: 'Exfiltration Over Alternative Protocol', tactics: [EXFIL] },
  T1560: { id: 'T1560', name: 'Archive Collected Data', tactics: [COLLECTION] },
  T1041: { id: 'T1041', name: 'Exfiltration Over C2 Channel', tactics: [EXFIL] },
};

export const techniqueOf = (id: string): Technique | null => TECHNIQUES[id] ?? null;

/** attack.mitre.org addresses: sub-techniques live under their parent (T1573/002). */
export const techniqueUrl = (id: string): string => `https://attack.mitre.org/techniques/${id.replace('.', '/')}/`;
export const tacticUrl = (id: string): string => `https://attack.mitre.org/tactics/${id}/`;
export const analyticUrl = (id: string): string => `https://attack.mitre.org/analytics/${id}/`;
