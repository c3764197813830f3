/**
 * Sysmon event parsing: the three JSON shapes of EDR-ANALYTICS.md §1.3 (Winlogbeat raw
 * `winlog.event_data.*`, Winlogbeat-ECS, flat NXLog/OTRF) and raw `<Event>…<EventData>` XML,
 * normalised to one SysmonEvent. Only the event ids the join uses are kept (1, 3, 5, 7, 11, 22,
 * 23, 26); other Sysmon ids and non-Sysmon lines are counted and ignored. Malformed lines are
 * counted and reported with their line number; they never stop the parse.
 */

export const SYSMON_EIDS = [1, 3, 5, 7, 11, 22, 23, 26] as const;
const KEPT_EIDS: ReadonlySet<number> = new Set<number>(SYSMON_EIDS);

/** Longest single line/event accepted (bytes of text); longer ones are malformed. */
export const MAX_EVENT_CHARS = 1 << 20;
/** Warnings kept per parser (the counter keeps counting past this). */
export const MAX_WARNINGS = 200;

/** One Sysmon event, normalised. Absent values are null. Times are epoch ms (UTC). */
export interface SysmonEvent {
  eid: number;
  host: string;
  /** UtcTime of the event (EID 3/22: when Sysmon logged the connection/query). */
  ts: number;
  processGuid: string | null;
  pid: number | null;
  image: string | null;
  user: string | null;
  // EID 1
  commandLine: string | null;
  parentProcessGuid: string | null;
  parentImage: string | null;
  parentCommandLine: string | null;
  originalFileName: string | null;
  // EID 3
  protocol: 'tcp' | 'udp' | null;
  initiated: boolean | null;
  srcIp: string | null;
  srcPort: number | null;
  dstIp: string | null;
  dstPort: number | null;
  // EID 7
  imageLoaded: string | null;
  signed: boolean | null;
  signature: string | null;
  signatureStatus: string | null;
  // EID 11/23/26
  targetFilename: string | null;
  // EID 22
  queryName: string | null;
  queryResults: string | null;
}

export interface SysmonParseWarning {
  source: string;
  line: number;
  reason: string;
}

export interface SysmonParseStats {
  lines: number;
  events: number;
  /** Sysmon events of ids the join does not use. */
  ignoredEids: number;
  /** Well-formed lines that are not Sysmon (Security, PowerShell, ...). */
  notSysmon: number;
  malformed: number;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads a dotted path from nested objects, also accepting flat dotted keys ("process.pid"). */
function dig(o: Obj, path: string): unknown {
  if (path in o) return o[path];
  let cur: unknown = o;
  for (const part of path.split('.')) {
    if (!isObj(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

function str(v: unknown): string | null {
  if (typeof v === 'string') return v === '' || v === '-' ? null : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return null;
}

function int(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : null;
  if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) return Number.parseInt(v, 10);
  if (typeof v === 'string' && /^0x[0-9a-f]+$/i.test(v)) return Number.parseInt(v, 16);
  return null;
}

function bool(v: unknown): boolean | null {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const s = v.toLowerCase();
    if (s === 'true') return true;
    if (s === 'false') return false;
  }
  return null;
}

/** Parses Sysmon `2023-08-16 04:54:31.215` (UTC, no zone) or an ISO 8601 time. NaN when invalid. */
export function parseSysmonTime(v: unknown): number {
  if (typeof v === 'number') return v > 1e11 ? v : v * 1000;
  if (typeof v !== 'string') return Number.NaN;
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/.exec(v.trim());
  if (!m) return Number.NaN;
  const ms = m[7] ? Number((m[7] + '00').slice(0, 3)) : 0;
  let t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, ms);
  const z = m[8];
  if (z && z !== 'Z') {
    const sign = z[0] === '-' ? -1 : 1;
    const digits = z.slice(1).replace(':', '');
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
  }
  return t;
}

/**
 * ProcessGuid start-time trick (EDR-ANALYTICS.md §1.2): groups 3 and 2, concatenated as hex, are
 * the process start time in Unix seconds. Returns epoch ms, or null when the GUID does not fit.
 */
export function processGuidStartMs(guid: string | null): number | null {
  if (!guid) return null;
  const m = /^\{?([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-/i.exec(guid);
  if (!m) return null;
  const secs = Number.parseInt(m[3]! + m[2]!, 16);
  // Plausible Sysmon era only (2010..2100).
  if (secs < 1_262_304_000 || secs > 4_102_444_800) return null;
  return secs * 1000;
}

/** The constant per-host first group of the ProcessGuid (EDR-ANALYTICS.md §1.2). */
export function processGuidHostId(guid: string | null): string | null {
  if (!guid) return null;
  const m = /^\{?([0-9a-f]{8})-/i.exec(guid);
  return m ? m[1]!.toLowerCase() : null;
}

/** Field reader over one event in any shape. */
type Reader = (sysmonName: string, ...ecsPaths: string[]) => unknown;

/** An event with only its id, host and time set (parsers fill in the rest). */
export function emptyEvent(eid: number, host: string, ts: number): SysmonEvent {
  return {
    eid,
    host,
    ts,
    processGuid: null,
    pid: null,
    image: null,
    user: null,
    commandLine: null,
    parentProcessGuid: null,
    parentImage: null,
    parentCommandLine: null,
    originalFileName: null,
    protocol: null,
    initiated: null,
    srcIp: null,
    srcPort: null,
    dstIp: null,
    dstPort: null,
    imageLoaded: null,
    signed: null,
    signature: null,
    signatureStatus: null,
    targetFilename: null,
    queryName: null,
    queryResults: null,
  };
}

type BuildResult = SysmonEvent | { skip: 'not_sysmon' | 'ignored_eid' } | { error: string };

/** Builds a SysmonEvent from the generic reader; shared by the JSON shapes and XML. */
function build(eidRaw: unknown, hostRaw: unknown, get: Reader, fallbackTime: unknown): BuildResult {
  const eid = int(eidRaw);
  if (eid === null) return { error: 'missing event id' };
  if (!KEPT_EIDS.has(eid)) return { skip: 'ignored_eid' };
  const host = str(hostRaw);
  if (!host) return { error: 'missing host name' };
  let ts = parseSysmonTime(get('UtcTime'));
  if (Number.isNaN(ts)) ts = parseSysmonTime(get('', '@timestamp'));
  if (Number.isNaN(ts)) ts = parseSysmonTime(fallbackTime);
  if (Number.isNaN(ts)) return { error: 'missing or invalid UtcTime' };
  const ev = emptyEvent(eid, host, ts);
  ev.processGuid = str(get('ProcessGuid', 'process.entity_id'));
  ev.pid = int(get('ProcessId', 'process.pid'));
  ev.image = str(get('Image', 'process.executable'));
  let user = str(get('User'));
  if (!user) {
    const name = str(get('', 'user.name'));
    const domain = str(get('', 'user.domain'));
    user = name ? (domain ? `${domain}\\${name}` : name) : null;
  }
  ev.user = user;
  switch (eid) {
    case 1:
      ev.commandLine = str(get('CommandLine', 'process.command_line'));
      ev.parentProcessGuid = str(get('ParentProcessGuid', 'process.parent.entity_id'));
      ev.parentImage = str(get('ParentImage', 'process.parent.executable'));
      ev.parentCommandLine = str(get('ParentCommandLine', 'process.parent.command_line'));
      ev.originalFileName = str(get('OriginalFileName', 'process.pe.original_file_name'));
      break;
    case 3: {
      const proto = (str(get('Protocol', 'network.transport')) ?? '').toLowerCase();
      ev.protocol = proto === 'tcp' || proto === 'udp' ? proto : null;
      let initiated = bool(get('Initiated'));
      if (initiated === null) {
        const dir = str(get('', 'network.direction'));
        if (dir === 'egress' || dir === 'outbound') initiated = true;
        else if (dir === 'ingress' || dir === 'inbound') initiated = false;
      }
      ev.initiated = initiated;
      ev.srcIp = str(get('SourceIp', 'source.ip'));
      ev.srcPort = int(get('SourcePort', 'source.port'));
      ev.dstIp = str(get('DestinationIp', 'destination.ip'));
      ev.dstPort = int(get('DestinationPort', 'destination.port'));
      if (!ev.protocol || !ev.srcIp || !ev.dstIp || ev.srcPort === null || ev.dstPort === null) {
        return { error: 'network event without protocol/addresses/ports' };
      }
      if (ev.srcPort < 0 || ev.srcPort > 65535 || ev.dstPort < 0 || ev.dstPort > 65535) return { error: 'port out of range' };
      break;
    }
    case 7:
      ev.imageLoaded = str(get('ImageLoaded', 'file.path', 'dll.path'));
      ev.signed = bool(get('Signed', 'file.code_signature.signed', 'dll.code_signature.signed'));
      ev.signature = str(get('Signature', 'file.code_signature.subject_name', 'dll.code_signature.subject_name'));
      ev.signatureStatus = str(get('SignatureStatus', 'file.code_signature.status', 'dll.code_signature.status'));
      if (!ev.imageLoaded) return { error: 'image load without ImageLoaded' };
      break;
    case 11:
    case 23:
    case 26:
      ev.targetFilename = str(get('TargetFilename', 'file.path'));
      break;
    case 22:
      ev.queryName = str(get('QueryName', 'dns.question.name'));
      ev.queryResults = str(get('QueryResults'));
      break;
    default:
      break;
  }
  return ev;
}

/** Parses one JSON object in any of the three JSON shapes. */
export function parseSysmonJson(o: Obj): BuildResult {
  const winlog = isObj(o['winlog']) ? o['winlog'] : null;
  const provider =
    str(winlog?.['provider_name']) ??
    str(winlog?.['channel']) ??
    str(o['SourceName']) ??
    str(o['Channel']) ??
    str(o['ProviderName']) ??
    str(dig(o, 'event.provider')) ??
    str(dig(o, 'event.module'));
  if (!provider || !/sysmon/i.test(provider)) return { skip: 'not_sysmon' };
  const ed = winlog && isObj(winlog['event_data']) ? winlog['event_data'] : null;
  const get: Reader = (name, ...ecs) => {
    if (name) {
      if (ed && ed[name] !== undefined) return ed[name];
      if (o[name] !== undefined) return o[name];
    }
    for (const p of ecs) {
      const v = dig(o, p);
      if (v !== undefined) return v;
    }
    return undefined;
  };
  const eid = winlog?.['event_id'] ?? o['EventID'] ?? o['EventId'] ?? dig(o, 'event.code');
  const host = winlog?.['computer_name'] ?? o['Hostname'] ?? o['Computer'] ?? dig(o, 'host.name') ?? dig(o, 'host.hostname');
  return build(eid, host, get, o['TimeCreated'] ?? o['EventTime']);
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function xmlDecode(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10);
      return cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
    }
    return XML_ENTITIES[e.toLowerCase()] ?? '';
  });
}

/** Parses one `<Event>…</Event>` element of a Windows event export. */
export function parseSysmonXml(xml: string): BuildResult {
  const sys = /<System>([\s\S]*?)<\/System>/.exec(xml);
  if (!sys) return { error: 'XML event without <System>' };
  const provider = /<Provider\s[^>]*Name=['"]([^'"]*)['"]/.exec(sys[1]!)?.[1] ?? /<Channel>([^<]*)</.exec(sys[1]!)?.[1] ?? null;
  if (!provider || !/sysmon/i.test(provider)) return { skip: 'not_sysmon' };
  const eid = /<EventID[^>]*>\s*(\d+)\s*<\/EventID>/.exec(sys[1]!)?.[1];
  const computer = /<Computer>([^<]*)<\/Computer>/.exec(sys[1]!)?.[1];
  const created = /<TimeCreated\s[^>]*SystemTime=['"]([^'"]*)['"]/.exec(sys[1]!)?.[1];
  const data = new Map<string, string>();
  const re = /<Data\s+Name=['"]([^'"]+)['"]\s*(?:\/>|>([\s\S]*?)<\/Data>)/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) data.set(m[1]!, xmlDecode(m[2] ?? ''));
  const get: Reader = (name) => (name ? data.get(name) : undefined);
  return build(eid, computer ? xmlDecode(computer) : undefined, get, created);
}

/** What moves the JSON array scanner outside strings: brackets, braces, quotes and newlines. */
const STRUCTURE = /[{}[\]"\n]/g;

/** The number of backslashes just before `end` (not looking before `from`). */
function trailingBackslashes(s: string, end: number, from: number): number {
  let k = end - 1;
  while (k >= from && s.charCodeAt(k) === 0x5c) k--;
  return end - 1 - k;
}

/**
 * Incremental parser: feed text chunks (a whole file or appended bytes of a growing file) with
 * `push`, then `end`. Accepts JSON lines and XML events (one per line or spread over lines)
 * in the same input, or one JSON array of event objects (what PowerShell's ConvertTo-Json and
 * many exporters write, often on a single line), read element by element. Calls `onEvent` for
 * each kept event. Memory is bounded by MAX_EVENT_CHARS whatever the input's size or shape.
 */
export class SysmonParser {
  readonly stats: SysmonParseStats = { lines: 0, events: 0, ignoredEids: 0, notSysmon: 0, malformed: 0 };
  readonly warnings: SysmonParseWarning[] = [];
  private partial = '';
  /** Chosen by the input's first non-blank character: '[' is a JSON array. */
  private mode: 'unknown' | 'lines' | 'array' = 'unknown';
  // JSON array scanner: nesting depth (the array itself is 1), string state, the element so far.
  private depth = 0;
  private inString = false;
  private escaped = false;
  private element: string[] = [];
  private elementChars = 0;
  private elementTooLong = false;
  private elementLine = 0;
  private lineNo = 1;
  private xmlBuf: string[] | null = null;
  private xmlStartLine = 0;
  private xmlChars = 0;

  private readonly source: string;
  private readonly onEvent: (ev: SysmonEvent) => void;

  constructor(source: string, onEvent: (ev: SysmonEvent) => void) {
    this.source = source;
    this.onEvent = onEvent;
  }

  push(chunk: string): void {
    if (this.mode === 'unknown') {
      const first = /[^\s\ufeff]/.exec(chunk);
      if (first === null) return; // blank so far: nothing to decide on, nothing to parse
      this.mode = first[0] === '[' ? 'array' : 'lines';
    }
    if (this.mode === 'array') {
      this.pushArray(chunk);
      return;
    }
    const text = this.partial + chunk;
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      this.line(text.slice(start, nl));
      start = nl + 1;
    }
    this.partial = text.slice(start);
    if (this.partial.length > MAX_EVENT_CHARS) {
      this.stats.lines++;
      this.malformed(this.stats.lines, `line longer than ${MAX_EVENT_CHARS} chars`);
      this.partial = '';
    }
  }

  /**
   * One pass over the characters: braces and brackets outside strings give the depth; an object
   * that opens at depth 1 is an element, parsed when it closes. Text between elements (commas,
   * blanks, the brackets) is skipped.
   */
  private pushArray(chunk: string): void {
    let start = this.depth >= 2 ? 0 : -1;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.inString) {
        // A backslash that ended the previous chunk escapes this chunk's first character.
        if (this.escaped) { this.escaped = false; i++; continue; }
        const from = i;
        const q = chunk.indexOf('"', from);
        if (q === -1) {
          this.escaped = trailingBackslashes(chunk, n, from) % 2 === 1;
          break;
        }
        i = q + 1;
        // A quote preceded by an odd run of backslashes is part of the string.
        if (trailingBackslashes(chunk, q, from) % 2 === 0) this.inString = false;
        continue;
      }
      STRUCTURE.lastIndex = i;
      const m = STRUCTURE.exec(chunk);
      if (m === null) break;
      const at = m.index;
      const c = chunk.charCodeAt(at);
      i = at + 1;
      if (c === 0x0a) this.lineNo++;
      else if (c === 0x22) { if (this.depth >= 1) this.inString = true; }
      else if (c === 0x7b || c === 0x5b) {
        if (this.depth === 1 && c === 0x7b) {
          start = at;
          this.elementLine = this.lineNo;
        }
        this.depth++;
      } else {
        if (this.depth > 0) this.depth--;
        if (this.depth === 1 && c === 0x7d && start !== -1) {
          this.endElement(chunk.slice(start, at + 1));
          start = -1;
        }
      }
    }
    if (start !== -1 && this.depth >= 2) this.addToElement(chunk.slice(start));
  }

  private addToElement(part: string): void {
    if (this.elementTooLong) return;
    this.elementChars += part.length;
    if (this.elementChars > MAX_EVENT_CHARS) {
      this.elementTooLong = true;
      this.element = [];
      return;
    }
    this.element.push(part);
  }

  private endElement(last: string): void {
    const lineNo = this.elementLine;
    this.stats.lines++;
    const tooLong = this.elementTooLong || this.elementChars + last.length > MAX_EVENT_CHARS;
    const text = tooLong ? '' : this.element.length === 0 ? last : this.element.join('') + last;
    this.element = [];
    this.elementChars = 0;
    this.elementTooLong = false;
    if (tooLong) {
      this.malformed(lineNo, `array element longer than ${MAX_EVENT_CHARS} chars`);
      return;
    }
    let o: unknown;
    try {
      o = JSON.parse(text);
    } catch (e) {
      this.malformed(lineNo, `invalid JSON: ${(e as Error).message.slice(0, 80)}`);
      return;
    }
    if (!isObj(o)) {
      this.malformed(lineNo, 'array element is not an object');
      return;
    }
    this.handle(parseSysmonJson(o), lineNo);
  }

  /** Flushes a last line without newline. Call once at end of input (not for growing files). */
  end(): void {
    if (this.mode === 'array' && this.depth >= 2) {
      this.stats.lines++;
      this.malformed(this.elementLine, 'JSON array element not closed before end of input');
      this.element = [];
      this.depth = 0;
    }
    if (this.partial.length > 0) {
      const last = this.partial;
      this.partial = '';
      this.line(last);
    }
    if (this.xmlBuf) {
      this.malformed(this.xmlStartLine, 'XML event not closed before end of input');
      this.xmlBuf = null;
    }
  }

  private malformed(line: number, reason: string): void {
    this.stats.malformed++;
    if (this.warnings.length < MAX_WARNINGS) this.warnings.push({ source: this.source, line, reason });
  }

  private handle(r: BuildResult, lineNo: number): void {
    if ('error' in r) this.malformed(lineNo, r.error);
    else if ('skip' in r) {
      if (r.skip === 'not_sysmon') this.stats.notSysmon++;
      else this.stats.ignoredEids++;
    } else {
      this.stats.events++;
      this.onEvent(r);
    }
  }

  private line(raw: string): void {
    const lineNo = ++this.stats.lines;
    const s = raw.trim();
    if (this.xmlBuf) {
      this.xmlBuf.push(s);
      this.xmlChars += s.length;
      if (s.includes('</Event>')) {
        const xml = this.xmlBuf.join('\n');
        this.xmlBuf = null;
        this.xmlEvents(xml, this.xmlStartLine);
      } else if (this.xmlChars > MAX_EVENT_CHARS) {
        this.malformed(this.xmlStartLine, `XML event longer than ${MAX_EVENT_CHARS} chars`);
        this.xmlBuf = null;
      }
      return;
    }
    if (s === '') return;
    if (s[0] === '{') {
      let o: unknown;
      try {
        o = JSON.parse(s);
      } catch (e) {
        this.malformed(lineNo, `invalid JSON: ${(e as Error).message.slice(0, 80)}`);
        return;
      }
      if (!isObj(o)) {
        this.malformed(lineNo, 'JSON line is not an object');
        return;
      }
      this.handle(parseSysmonJson(o), lineNo);
      return;
    }
    if (s[0] === '<') {
      const at = s.search(/<Event[\s>]/);
      if (at === -1) return; // <?xml …?>, <Events>, </Events>
      const rest = s.slice(at);
      if (rest.includes('</Event>')) this.xmlEvents(rest, lineNo);
      else {
        this.xmlBuf = [rest];
        this.xmlStartLine = lineNo;
        this.xmlChars = rest.length;
      }
      return;
    }
    this.malformed(lineNo, 'neither a JSON object nor an XML event');
  }

  /** One or more complete `<Event>` elements (an export may put several on one line). */
  private xmlEvents(xml: string, lineNo: number): void {
    const re = /<Event[\s>][\s\S]*?<\/Event>/g;
    let any = false;
    for (let m = re.exec(xml); m; m = re.exec(xml)) {
      any = true;
      this.handle(parseSysmonXml(m[0]), lineNo);
    }
    if (!any) this.malformed(lineNo, 'unterminated XML event');
  }
}

/** Parses a whole text; convenience for tests and small files. */
export function parseSysmonText(
  text: string,
  source = 'input',
): { events: SysmonEvent[]; stats: SysmonParseStats; warnings: SysmonParseWarning[] } {
  const events: SysmonEvent[] = [];
  const p = new SysmonParser(source, (e) => events.push(e));
  p.push(text);
  p.end();
  return { events, stats: p.stats, warnings: p.warnings };
}
