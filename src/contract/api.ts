/**
 * The dissector contract (STYLE.md §6.2). Dissectors under `dissectors/` import only this file,
 * `src/util/*`, the flow record's core types and their own files. Types and tiny helpers only: no
 * logic lives here.
 *
 * A protocol is open-ended: besides its dissector, its folder registers the record sections it
 * fills (`RecordSection`: ECS fields, protobuf message, analytics features), so the engine, the
 * outputs and the analytics never name a protocol.
 *
 * This file sits below src/flow (the flow record and the per-flow state name its types), so it
 * imports nothing of the project.
 */

// ---- direction & verdicts -------------------------------------------------------------
/** Originator (the client) is ToServer. Used as an array index everywhere. */
import type { UrlRedactor } from '../util/redact.js';

export const Dir = { ToServer: 0, ToClient: 1 } as const;
export type Dir = (typeof Dir)[keyof typeof Dir];

/** What the driver should do after a feed/gap call. */
export type Verdict =
  | 'more' // keep feeding both directions
  | 'dir-done' // stop feeding this direction
  | 'done' // stop dissecting this flow; the driver stops reassembly (bypass)
  | 'abort'; // unrecoverable; an event has already been raised

export type ProbeResult = 'yes' | 'no' | 'unsure'; // 'unsure' = need more bytes

/**
 * What a mid-stream probe (ProbeSpec.midstream) answers, as one number so the probe stays
 * allocation-free: MidNo, MidUnsure, or a Role saying who sent the bytes, when the frames found
 * tell (PINGREQ comes from an MQTT client, Basic.Deliver from an AMQP broker).
 */
export const MidNo = -1;
export const MidUnsure = -2;
export const Role = { Unknown: 0, Client: 1, Server: 2 } as const;
export type Role = (typeof Role)[keyof typeof Role];

// ---- engine-owned stream window (zero-copy, reused per direction) ------------------------
export interface StreamView {
  /** Contiguous unconsumed bytes (a view into the reassembly buffer, or one datagram for UDP). */
  readonly bytes: Uint8Array;
  /** Stream offset of bytes[0] (0 = first payload byte of this direction). */
  readonly streamOffset: number;
  /** No more bytes will come in this direction. */
  readonly eof: boolean;
  /** Packet time (epoch ms) of the packet that completed this view. */
  readonly ts: number;
  /** Mark n leading bytes fully handled. For UDP the whole datagram is dropped after feed(). */
  consume(n: number): void;
  /** Do not call feed again until n unconsumed bytes are available (or eof). */
  needAtLeast(n: number): void;
}

// ---- events & limits --------------------------------------------------------------------
export type EventSeverity = 'info' | 'anomaly' | 'limit';
export interface EventSpec {
  readonly severity: EventSeverity;
  readonly summary: string;
}
export type EventCatalog<E extends string> = { readonly [K in E]: EventSpec };

/** Every limit is a finite number with a unit suffix in its name (…Bytes, …Count, …Ms). */
export type Limits<L> = { readonly [K in keyof L]: number };

// ---- records ----------------------------------------------------------------------------
export interface DissectorRecord {
  readonly kind: string; // 'tls.client_hello', 'mqtt.tx', …
  readonly ts: number; // epoch ms (packet time) of the first byte of the PDU/transaction
  readonly dir: Dir | null; // null for bidirectional transactions
}

/**
 * The last record of a dissector whose flow switches protocol in place (STARTTLS and its kin,
 * RDP's X.224 negotiation): emitted just before it returns 'done', with every byte up to the
 * switch consumed and none after it. The driver attaches the dissector named `upgrade` at the
 * next unconsumed byte of each direction; the flow keeps its protocol label and says it was
 * upgraded. Kinds end in '.upgrade'.
 */
export interface UpgradeRecord extends DissectorRecord {
  readonly upgrade: string; // the dissector that takes over, e.g. 'tls'
}

// ---- what a dissector may ask of the engine ---------------------------------------------
export interface FlowInfo {
  readonly srcPort: number; // client port
  readonly dstPort: number; // server port
  readonly transport: 'tcp' | 'udp';
  readonly startTs: number;
  /**
   * A TCP flow picked up without its handshake (the capture or the sensor started while it ran):
   * each direction's bytes may start inside a PDU, so the dissector resyncs on a frame boundary.
   */
  readonly midstream: boolean;
}

export interface DissectorContext<R extends DissectorRecord, E extends string> {
  readonly flow: FlowInfo;
  /** Packet time (epoch ms), never wall time. */
  now(): number;
  /** Record must own its bytes (no views into the stream). */
  emit(record: R): void;
  /** A named anomaly or limit hit. */
  event(id: E, dir: Dir): void;
  /** First well-formed PDU seen: the protocol is confirmed for this flow. */
  confirm(): void;
  /** Input contradicts the protocol. Before confirm() the driver silently detaches. */
  violation(id: E): void;
  /** Hand a certificate (DER view, valid only during this call) to the engine's X.509 cache. */
  handoff(kind: 'x509', dir: Dir, index: number, der: Uint8Array): void;
  /**
   * The handshake of this direction ended at `streamOffset`: bytes from there on are the
   * application payload (entropy and small-record cadence are measured from there).
   */
  payloadStart(dir: Dir, streamOffset: number): void;
  /**
   * Every exchange the flow began has been answered (each DNS query has its response). A datagram
   * flow then ends at once, its record as it would be but for its end reason ('complete'), and a
   * later datagram on the same ports starts a new flow, as after the idle timeout. Optional for
   * contexts made outside the driver (tests); ignored on TCP, which ends with its connection.
   */
  complete?(): void;
}

/** Per-flow instance; one class per protocol (state.ts). No I/O, no timers, no globals. */
export interface FlowDissector {
  feed(dir: Dir, view: StreamView): Verdict;
  gap(dir: Dir, lostBytes: number): Verdict; // resync or abort; never guess across a gap
  end(dir: Dir): void; // flush open transactions as status 'incomplete'
}

// ---- registration descriptor (index.ts of each dissector) -------------------------------
export interface ProbeSpec {
  readonly ports: readonly number[]; // hints; never sufficient alone
  readonly prefixes: readonly (readonly number[])[]; // leading-byte patterns at offset 0
  readonly minBytes: number; // don't probe before this many
  readonly maxBytes: number; // give up after this many (budget)
  probe(bytes: Uint8Array, dir: Dir): ProbeResult; // pure, allocation-free
  /**
   * TCP flows picked up mid-stream only, after `probe` said no: do these bytes hold consecutive
   * well-formed frames from some offset on? MidNo, MidUnsure (more bytes may tell; the driver
   * bounds how many) or the Role of the bytes' sender. Pure, allocation-free. A dissector with
   * this probe handles `ctx.flow.midstream` in create(): it resyncs each direction itself.
   */
  midstream?(bytes: Uint8Array, dir: Dir): number;
  /**
   * The first bytes of a direction's stream (a datagram's, on UDP) on which `probe` may answer
   * other than 'no', as [to server, to client]: a list of byte values, or null where any byte
   * may begin a match. The driver does not call the probe when the first byte is not listed (it
   * counts as a 'no'), so a crowd of flows of one protocol costs only the probes that could
   * claim them, however many dissectors there are. Absent: any byte, both ways. Must never
   * leave out a byte the probe can accept: test/probe-leads.test.ts holds each list to its probe.
   */
  readonly leads?: readonly [toServer: readonly number[] | null, toClient: readonly number[] | null];
}

/**
 * A probe's lead bytes from the words it looks for: each word's first byte, and with `anyCase`
 * a letter's other case too (for probes that compare ASCII case-insensitively).
 */
export function leadBytes(words: readonly string[], anyCase = false): number[] {
  const out = new Set<number>();
  for (const w of words) {
    const c = w.charCodeAt(0);
    if (Number.isNaN(c) || c > 0xff) throw new Error(`leadBytes: '${w}' does not start with a byte`);
    out.add(c);
    if (anyCase && ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a))) out.add(c ^ 0x20);
  }
  return [...out];
}

export interface DissectorSpec<L extends Limits<L>, R extends DissectorRecord, E extends string, S> {
  readonly name: string; // 'mqtt'; also the network.protocol value unless summarize says otherwise
  readonly apiVersion: 1;
  readonly transport: 'tcp' | 'udp';
  readonly probe: ProbeSpec;
  /**
   * May end with a `*.tunnel` record that hands the rest of the stream back for classification
   * (HTTP CONNECT, upgrades): the engine then keeps consumed bytes readable. Other dissectors'
   * consumed bytes are dropped from reassembly as they go.
   */
  readonly handsBack?: boolean;
  /**
   * A generic carrier: other protocols open with its messages (MQTT over WebSocket and TLS behind
   * CONNECT start as HTTP requests), so it is probed after every other dissector whatever the
   * ports, and the more specific probes get the first word.
   */
  readonly carrier?: boolean;
  readonly defaultLimits: L;
  readonly events: EventCatalog<E>;
  create(ctx: DissectorContext<R, E>, limits: L): FlowDissector;
  /** Fold the records one flow emitted into the per-flow summary. */
  summarize(records: readonly R[]): S;
  /**
   * The names-to-addresses answers a record carries (a DNS response), or null. The engine learns
   * them as the record is emitted, to name the servers of that client's later flows.
   */
  names?(record: R): NameAnswers | null;
  /** The record sections this dissector may fill (registration order = ECS order). */
  readonly sections?: readonly AnyRecordSection[];
  /** Put the summary on the flow record, section by section. Without it the summary is dropped. */
  toRecord?(summary: S, out: RecordSink, ctx: SummaryContext): void;
}

/** Names and the addresses (or names) they resolved to, as one response told a client. */
export interface NameAnswers {
  readonly queries: readonly string[];
  readonly answers: readonly { readonly name: string; readonly type: number; readonly data: string; readonly ttl: number }[];
  readonly rcode: number | null;
}

// ---- record sections (what a protocol puts on the flow record) --------------------------------

/**
 * A typed key into FlowRecord.apps. The protocol that owns the section exports it (with its ECS
 * writer, protobuf message and features: RecordSection); readers get the typed info with appOf().
 */
export interface AppKey<I> {
  readonly key: string;
  /** Type witness only; never set. */
  readonly witness?: (info: I) => I;
}

/** The protocol sections of one flow, by key. Plain data (structured-clone safe). */
export type AppSections = { [key: string]: unknown };

/** The section a key names, or null when the flow has none. */
export function appOf<I>(rec: { readonly apps: AppSections }, key: AppKey<I>): I | null {
  const v = rec.apps[key.key];
  return v === undefined ? null : (v as I);
}

/**
 * Protocol-neutral facts a protocol's section reports for the classifiers and analytics, so they
 * need not know which protocol said so. When two sections report the same fact, the first (in
 * the order they were set) wins.
 */
export interface AppFeatures {
  /** The payload is encrypted by a protocol a dissector read: its name ('tls', 'quic', 'ssh', …). */
  encryptedBy?: string;
  /** A publish/subscribe protocol read in clear. */
  pubsub?: 'mqtt' | 'amqp';
  /** That pub/sub session ran inside a WebSocket. */
  overWebSocket?: boolean;
  /** WebSocket subprotocol negotiated in clear (Sec-WebSocket-Protocol). */
  webSocketProtocol?: string;
  /** Times (epoch ms) of application keep-alive requests, for cadence scoring. */
  keepAliveTs?: readonly number[];
  /** The flow is itself a name lookup: its server is not named from other flows' answers. */
  nameLookup?: boolean;
}


/**
 * What the output gives a section's writers besides the section: how records leave this sensor.
 * Passed on every call rather than kept in module state, so two outputs (or two tests) with
 * different settings in one process never see each other's.
 */
export interface SectionContext {
  /** Takes secrets out of URLs before a record leaves the sensor (sensor.yaml output.redactQueryNames). */
  readonly redactor: UrlRedactor;
}

/** The two halves of an ECS document a section writes into: ECS fields, and `ndr.*` extras. */
export interface EcsTarget {
  readonly doc: Record<string, unknown>;
  readonly ndr: Record<string, unknown>;
}

/**
 * Where a section writes its ECS fields when it renders them itself (RecordSection.write): the
 * same document the `ecs` form builds, written as it goes. A field whose value is null or
 * undefined, an empty list, or an object nothing was written into is left out, so a section never
 * tests for emptiness first. Keys are plain snake_case names (no quoting needed).
 */
export interface EcsWriter {
  /** Today's one-line documents (`--output-detail full`) rather than the lean default. */
  readonly full: boolean;
  /** Enter the object field `key`; it appears only if something is written before close(). */
  open(key: string): void;
  close(): void;
  str(key: string, v: string | null | undefined): void;
  /**
   * A string the sensor made itself from hex digits, letters, dots, colons, commas and the like
   * (hashes, fingerprints, addresses it formatted): nothing in it needs escaping, so no test is run.
   */
  safe(key: string, v: string | null | undefined): void;
  num(key: string, v: number | null | undefined): void;
  bool(key: string, v: boolean | null | undefined): void;
  /** Epoch milliseconds as an ISO 8601 UTC date. */
  time(key: string, ms: number | null | undefined): void;
  strs(key: string, v: readonly string[] | null | undefined): void;
  nums(key: string, v: readonly number[] | null | undefined): void;
  /** Any plain JSON value: objects lose their empty fields as above, lists are kept as they are. */
  val(key: string, v: unknown): void;
  /** A value given as JSON text, made once and written many times (constants): not checked. */
  json(key: string, text: string): void;
  /**
   * Only where the text is bytes (the JSON writer of one output stream): what a section wrote for
   * a record, kept to be copied again for a later record the section says writes the same.
   */
  readonly memo?: SectionMemo;
  /**
   * Only where the text is bytes: a section's usual shape written as runs of constant bytes made
   * once (asciiBytes in src/util/json-text.ts) with the values between them, instead of a key, its
   * quotes, colon and comma per field method. The runs must hold the text the field methods write
   * for the same values, objects opened and closed within them.
   */
  readonly runs?: EcsRuns;
}

/** Byte runs of a document (EcsWriter.runs). */
export interface EcsRuns {
  /** A field at the current level, given as its constant start (`"dns":{"question":{"name":`): the comma before it when it is not the first, then the bytes. */
  field(t: Uint8Array): void;
  /** Constant bytes continuing the run. */
  lit(t: Uint8Array): void;
  /** A string value as str() writes it. */
  vstr(v: string): void;
  /** A number value as num() writes it. */
  vnum(v: number): void;
}

/**
 * A section's written parts kept as bytes (EcsWriter.memo). `slot` names the part ('tls.doc'),
 * `key` a string the record already holds that most records writing the same share (the JA4);
 * `same(kept, info, full)` says whether the record that made a kept copy writes what `info` would.
 */
export interface SectionMemo {
  /**
   * The part `write` writes for `info`: copied from a kept copy for slot and key that `same`
   * accepts, else written and kept with `copy(info)` (a copy of what `same` reads, since the
   * caller's objects may change after this record and the kept bytes would not).
   */
  part<I>(
    slot: string,
    key: string,
    info: I,
    same: (kept: I, info: I, full: boolean) => boolean,
    copy: (info: I) => I,
    write: (info: I, w: EcsWriter) => void,
  ): void;
}

/**
 * A section's own ECS writers: `doc` writes its top-level ECS fields, `ndr` its fields inside
 * `ndr` (the two land in different places of the document, so they are two calls).
 */
export interface SectionWriters<I> {
  doc?(info: I, w: EcsWriter, ctx: SectionContext): void;
  ndr?(info: I, w: EcsWriter, ctx: SectionContext): void;
  /**
   * Objects the flow refers to by a key (a certificate by its SHA-256) that the lean output
   * describes once per output stream and UTC day, as documents of their own written before the
   * flow. The flow itself carries only the keys.
   */
  refs?(info: I, out: RefSink): void;
}

/** Where a section names the objects its flow refers to (SectionWriters.refs). */
export interface RefSink {
  /**
   * `kind` names the document type (its event.dataset is `ndr.<kind>`); `key` identifies the
   * object; `write(obj, w)` writes the document's own fields, called only when the stream has not
   * described this object yet today (a plain function, so naming an object costs no closure).
   */
  ref<T>(kind: string, key: string, obj: T, write: (obj: T, w: EcsWriter) => void): void;
}

/**
 * A section's typed protobuf message. `type` is the fully-qualified message name from the
 * protocol's own .proto file (dissectors/<name>/*.proto); `toProto` returns the message as a plain
 * object in protobufjs's camelCase form. Encoding is done by the output layer from the generated
 * code, so dissectors never load protobuf.
 */
export interface ProtoBinding<I> {
  readonly type: string;
  toProto(info: I, ctx: SectionContext): Record<string, unknown>;
  /**
   * The field table both renderings share: each field of the message (camelCase, '.' into a
   * sub-message, 'name.*' for a map's entries) → the ECS path that carries the same value
   * ('{key}' stands for the section's key, '*' for the map entry's name, '.0' for a list's first
   * element). test/record-sections.test.ts holds every message to it.
   */
  readonly ecs: Readonly<Record<string, string>>;
}

/**
 * One keyed section of the flow record, owned by the protocol folder that defines it. Several
 * dissectors may fill the same section (TLS, DTLS and QUIC fill `tls`); one dissector may fill
 * several (QUIC fills `tls` and `quic`). Sections appear in ECS in registration order.
 */
export interface RecordSection<I> extends AppKey<I> {
  /** Write the section's ECS fields (plain JSON values; null values are pruned afterwards). */
  ecs?(info: I, out: EcsTarget, ctx: SectionContext): void;
  /**
   * The same fields written straight to the output (no object built, nothing pruned after): the
   * fast path, and the only place the lean/full difference is expressed. A section with both
   * uses `write`; one of the two is required.
   */
  readonly write?: SectionWriters<I>;
  /** The server's name as this protocol saw it (ECS destination.domain); first section wins. */
  destinationDomain?(info: I): string | null;
  readonly proto: ProtoBinding<I>;
  /** Protocol-neutral facts the classifiers and analytics read (see AppFeatures). */
  features?(info: I): AppFeatures;
}

// biome-ignore lint: a list of sections is heterogeneous by design
export type AnyRecordSection = RecordSection<any>;

/** Identity helper so a section's info type is inferred and checked in one place. */
export function defineSection<I>(section: RecordSection<I>): RecordSection<I> {
  return section;
}

/**
 * A service a protocol needs at summary time but that lives in a higher layer (e.g. TLS's JA4 and
 * certificate-chain checks in src/fingerprint). The protocol exports the typed key; the runtime
 * provides the implementation. The key's type parameter keeps both sides honest.
 */
export interface ServiceKey<T> {
  readonly service: string;
  /** Type witness only; never set. */
  readonly witness?: (t: T) => T;
}

export function serviceKey<T>(service: string): ServiceKey<T> {
  return { service };
}

export class MissingServiceError extends Error {
  override readonly name = 'MissingServiceError';
}

/** What a dissector's `toRecord` may ask about the flow when it ends. */
export interface SummaryContext {
  readonly flow: FlowInfo;
  /** SHA-256s of the certificates this flow handed off in a direction (handoff order). */
  handedOff(kind: 'x509', dir: Dir): readonly string[];
  /** Sizes of the first application-data records after payloadStart() in a direction. */
  appSizes(dir: Dir): readonly number[];
  /** A runtime service by key; throws MissingServiceError when the runtime did not provide it. */
  service<T>(key: ServiceKey<T>): T;
}

/** Where a dissector's `toRecord` puts its sections. */
export interface RecordSink {
  set<I>(section: RecordSection<I>, info: I): void;
  /** Override the flow's network.protocol (e.g. DNS over TCP is still 'dns'). */
  protocol(name: string): void;
}

/** Any dissector, as the registry holds them. */
// biome-ignore lint: the registry is heterogeneous by design
export type AnyDissectorSpec = DissectorSpec<any, any, string, unknown>;

/** Identity helper so each dissector's generics are inferred and checked in one place. */
export function defineDissector<L extends Limits<L>, R extends DissectorRecord, E extends string, S>(
  spec: DissectorSpec<L, R, E, S>,
): DissectorSpec<L, R, E, S> {
  return spec;
}
