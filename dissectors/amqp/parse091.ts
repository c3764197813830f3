/**
 * AMQP 0-9-1 body parsers: method frames (class-id, method-id, arguments; AMQP 0-9-1 §4.2.6),
 * content headers (§4.2.6.1) and field tables (§4.2.5.5, with RabbitMQ's type letters), recursive
 * and therefore depth- and count-limited. Each parser gets a cursor narrowed to one frame payload.
 */
import { Cursor } from '../../src/util/cursor.js';
import { utf8Bounded } from '../../src/util/bytes.js';
import type { AmqpEventId } from './events.js';
import type { AmqpLimits, MutableAmqpRecord } from './records.js';

const T_OK = 0;
const T_BAD = 1;
const T_DEPTH = 2;
const T_COUNT = 3;
type TableResult = typeof T_OK | typeof T_BAD | typeof T_DEPTH | typeof T_COUNT;

const TABLE_EVENT: readonly (AmqpEventId | null)[] = [null, 'amqp.bad_field_table', 'amqp.limit.max_table_depth_count', 'amqp.limit.max_table_entries_count'];

/** Fixed widths of field value types; -1 = variable/compound; undefined = unknown. */
const FIXED: Record<number, number> = {
  0x74: 1, 0x62: 1, 0x42: 1, // t b B
  0x73: 2, 0x75: 2, 0x55: 2, // s u U
  0x49: 4, 0x69: 4, 0x66: 4, // I i f
  0x6c: 8, 0x4c: 8, 0x64: 8, 0x54: 8, // l L d T
  0x44: 5, // D decimal: scale + value
  0x56: 0, // V void
};

/** The client/server-properties strings we keep. */
export interface PeerProps { product: string | null; platform: string | null; version: string | null }

function keyIs(k: Uint8Array, s: string): boolean {
  if (k.length !== s.length) return false;
  for (let i = 0; i < k.length; i++) if (k[i] !== s.charCodeAt(i)) return false;
  return true;
}

function skipValue(c: Cursor, t: number, depth: number, lim: AmqpLimits): TableResult {
  const w = FIXED[t];
  if (w !== undefined) { c.skip(w); return c.err ? T_BAD : T_OK; }
  switch (t) {
    case 0x53: case 0x78: { // S longstr, x byte array
      const n = c.u32();
      c.skip(n);
      return c.err ? T_BAD : T_OK;
    }
    case 0x46: // F nested table
      if (depth + 1 > lim.maxTableDepthCount) return skipWhole(c, T_DEPTH);
      return walkTable(c, depth + 1, lim, null);
    case 0x41: { // A array: u32 size, then type+value pairs
      if (depth + 1 > lim.maxTableDepthCount) return skipWhole(c, T_DEPTH);
      const size = c.u32();
      const prev = c.narrow(size);
      if (c.err) return T_BAD;
      let n = 0;
      let r: TableResult = T_OK;
      while (c.pos < c.end && r === T_OK) {
        if (++n > lim.maxTableEntriesCount) { r = T_COUNT; break; }
        const t2 = c.u8();
        r = skipValue(c, t2, depth + 1, lim);
      }
      if (c.err && r === T_OK) r = T_BAD;
      c.widen(prev); // continue after the array whatever happened inside it
      c.err = false;
      return r;
    }
    default:
      return T_BAD;
  }
}

/** Skip a u32-sized table/array without looking inside it (used once a limit is hit). */
function skipWhole(c: Cursor, r: TableResult): TableResult {
  const size = c.u32();
  c.skip(size);
  return c.err ? T_BAD : r;
}

/**
 * Walk one field table at the cursor (u32 size + entries). When `props` is given (top level of
 * client/server properties) the product/platform/version long strings are kept. A bad value type
 * or a limit inside the table skips the rest of it (the size is known), so the method's later
 * arguments still parse.
 */
export function walkTable(c: Cursor, depth: number, lim: AmqpLimits, props: PeerProps | null): TableResult {
  const size = c.u32();
  const prev = c.narrow(size);
  if (c.err) return T_BAD;
  let n = 0;
  let r: TableResult = T_OK;
  while (c.pos < c.end) {
    if (++n > lim.maxTableEntriesCount) { r = T_COUNT; break; }
    const klen = c.u8();
    const key = c.view(klen);
    const t = c.u8();
    if (c.err) { r = T_BAD; break; }
    if (props !== null && t === 0x53) {
      const len = c.u32();
      const v = c.view(len);
      if (c.err) { r = T_BAD; break; }
      if (keyIs(key, 'product')) props.product = utf8Bounded(v, lim.maxStringBytes);
      else if (keyIs(key, 'platform')) props.platform = utf8Bounded(v, lim.maxStringBytes);
      else if (keyIs(key, 'version')) props.version = utf8Bounded(v, lim.maxStringBytes);
      continue;
    }
    r = skipValue(c, t, depth, lim);
    if (r !== T_OK) break;
  }
  if (c.err && r === T_OK) r = T_BAD;
  c.widen(prev); // the table's size is known: continue after it whatever happened inside
  c.err = false;
  return r;
}

/** Method names, keyed class*1000+method (AMQP 0-9-1 §1 class/method index). */
export const METHOD_NAMES: Record<number, string> = {
  10010: 'connection.start', 10011: 'connection.start-ok', 10020: 'connection.secure', 10021: 'connection.secure-ok',
  10030: 'connection.tune', 10031: 'connection.tune-ok', 10040: 'connection.open', 10041: 'connection.open-ok',
  10050: 'connection.close', 10051: 'connection.close-ok', 10060: 'connection.blocked', 10061: 'connection.unblocked',
  20010: 'channel.open', 20011: 'channel.open-ok', 20020: 'channel.flow', 20021: 'channel.flow-ok',
  20040: 'channel.close', 20041: 'channel.close-ok',
  40010: 'exchange.declare', 40011: 'exchange.declare-ok', 40020: 'exchange.delete', 40021: 'exchange.delete-ok',
  40030: 'exchange.bind', 40031: 'exchange.bind-ok', 40040: 'exchange.unbind', 40051: 'exchange.unbind-ok',
  50010: 'queue.declare', 50011: 'queue.declare-ok', 50020: 'queue.bind', 50021: 'queue.bind-ok',
  50030: 'queue.purge', 50031: 'queue.purge-ok', 50040: 'queue.delete', 50041: 'queue.delete-ok',
  50050: 'queue.unbind', 50051: 'queue.unbind-ok',
  60010: 'basic.qos', 60011: 'basic.qos-ok', 60020: 'basic.consume', 60021: 'basic.consume-ok',
  60030: 'basic.cancel', 60031: 'basic.cancel-ok', 60040: 'basic.publish', 60050: 'basic.return',
  60060: 'basic.deliver', 60070: 'basic.get', 60071: 'basic.get-ok', 60072: 'basic.get-empty',
  60080: 'basic.ack', 60090: 'basic.reject', 60100: 'basic.recover-async', 60110: 'basic.recover',
  60111: 'basic.recover-ok', 60120: 'basic.nack',
  85010: 'confirm.select', 85011: 'confirm.select-ok',
  90010: 'tx.select', 90011: 'tx.select-ok', 90020: 'tx.commit', 90021: 'tx.commit-ok', 90030: 'tx.rollback', 90031: 'tx.rollback-ok',
};

/** Methods followed by a content header + body (§4.2.6). */
export function carriesContent(key: number): boolean {
  return key === 60040 || key === 60050 || key === 60060 || key === 60071;
}

export interface MethodParse {
  /** Set when the arguments overran the frame. */
  malformed: boolean;
  /** Table or string limit events to attach to the record. */
  events: AmqpEventId[];
}

function shortstr(c: Cursor, lim: AmqpLimits, ev: AmqpEventId[]): string {
  const n = c.u8();
  const v = c.view(n);
  if (n > lim.maxStringBytes && !ev.includes('amqp.limit.max_string_bytes')) ev.push('amqp.limit.max_string_bytes');
  return utf8Bounded(v, lim.maxStringBytes);
}

function table(c: Cursor, lim: AmqpLimits, ev: AmqpEventId[], props: PeerProps | null): void {
  const r = walkTable(c, 1, lim, props);
  const e = TABLE_EVENT[r];
  if (e !== null && e !== undefined && !ev.includes(e)) ev.push(e);
}

/**
 * Parse the arguments of one method frame payload (cursor at class-id). Fills `rec`.
 * The SASL response of StartOk/SecureOk is skipped by length, never read.
 */
export function parseMethod(c: Cursor, rec: MutableAmqpRecord, lim: AmqpLimits): MethodParse {
  const ev: AmqpEventId[] = [];
  const cls = c.u16();
  const mth = c.u16();
  rec.classId = cls;
  rec.methodId = mth;
  const key = cls * 1000 + mth;
  rec.method = METHOD_NAMES[key] ?? null;
  switch (key) {
    case 10010: { // Start: version-major, version-minor, server-properties, mechanisms, locales
      c.skip(2);
      const props: PeerProps = { product: null, platform: null, version: null };
      table(c, lim, ev, props);
      rec.product = props.product;
      rec.platform = props.platform;
      rec.clientVersion = props.version;
      const n = c.u32();
      const mechs = utf8Bounded(c.view(n), lim.maxStringBytes);
      rec.mechanisms = mechs.split(' ').filter((m) => m.length > 0).slice(0, 16);
      const l = c.u32();
      c.skip(l);
      break;
    }
    case 10011: { // StartOk: client-properties, mechanism, response (secret), locale
      const props: PeerProps = { product: null, platform: null, version: null };
      table(c, lim, ev, props);
      rec.product = props.product;
      rec.platform = props.platform;
      rec.clientVersion = props.version;
      rec.mechanism = shortstr(c, lim, ev);
      const n = c.u32();
      c.skip(n); // SASL response: never decoded
      shortstr(c, lim, ev);
      break;
    }
    case 10020: case 10021: { // Secure / SecureOk: challenge / response (skipped)
      const n = c.u32();
      c.skip(n);
      break;
    }
    case 10030: case 10031: // Tune / TuneOk
      rec.channelMax = c.u16();
      rec.frameMax = c.u32();
      rec.heartbeatS = c.u16();
      break;
    case 10040: // Open: virtual-host, reserved, reserved bit
      rec.vhost = shortstr(c, lim, ev);
      break;
    case 10050: case 20040: // Connection.Close / Channel.Close
      rec.code = c.u16();
      rec.reason = shortstr(c, lim, ev);
      c.skip(4); // failing class-id, method-id
      break;
    case 40010: // Exchange.Declare: reserved, exchange, type, bits, arguments
      c.skip(2);
      rec.exchange = shortstr(c, lim, ev);
      rec.exchangeType = shortstr(c, lim, ev);
      c.skip(1);
      table(c, lim, ev, null);
      break;
    case 40020: // Exchange.Delete
      c.skip(2);
      rec.exchange = shortstr(c, lim, ev);
      break;
    case 50010: // Queue.Declare: reserved, queue, bits, arguments
      c.skip(2);
      rec.queue = shortstr(c, lim, ev);
      c.skip(1);
      table(c, lim, ev, null);
      break;
    case 50011: // Queue.DeclareOk: queue, message-count, consumer-count
      rec.queue = shortstr(c, lim, ev);
      c.skip(8);
      break;
    case 50020: // Queue.Bind: reserved, queue, exchange, routing-key, bit, arguments
      c.skip(2);
      rec.queue = shortstr(c, lim, ev);
      rec.exchange = shortstr(c, lim, ev);
      rec.routingKey = shortstr(c, lim, ev);
      c.skip(1);
      table(c, lim, ev, null);
      break;
    case 50050: // Queue.Unbind: reserved, queue, exchange, routing-key, arguments
      c.skip(2);
      rec.queue = shortstr(c, lim, ev);
      rec.exchange = shortstr(c, lim, ev);
      rec.routingKey = shortstr(c, lim, ev);
      table(c, lim, ev, null);
      break;
    case 50040: case 50030: // Queue.Delete / Purge
      c.skip(2);
      rec.queue = shortstr(c, lim, ev);
      break;
    case 60020: // Basic.Consume: reserved, queue, consumer-tag, bits, arguments
      c.skip(2);
      rec.queue = shortstr(c, lim, ev);
      rec.consumerTag = shortstr(c, lim, ev);
      c.skip(1);
      table(c, lim, ev, null);
      break;
    case 60021: case 60030: case 60031: // ConsumeOk / Cancel / CancelOk
      rec.consumerTag = shortstr(c, lim, ev);
      break;
    case 60040: // Basic.Publish: reserved, exchange, routing-key, bits
      c.skip(2);
      rec.exchange = shortstr(c, lim, ev);
      rec.routingKey = shortstr(c, lim, ev);
      c.skip(1);
      break;
    case 60050: // Basic.Return: reply-code, reply-text, exchange, routing-key
      rec.code = c.u16();
      rec.reason = shortstr(c, lim, ev);
      rec.exchange = shortstr(c, lim, ev);
      rec.routingKey = shortstr(c, lim, ev);
      break;
    case 60060: // Basic.Deliver: consumer-tag, delivery-tag, redelivered, exchange, routing-key
      rec.consumerTag = shortstr(c, lim, ev);
      c.skip(9);
      rec.exchange = shortstr(c, lim, ev);
      rec.routingKey = shortstr(c, lim, ev);
      break;
    case 60070: // Basic.Get: reserved, queue, no-ack
      c.skip(2);
      rec.queue = shortstr(c, lim, ev);
      c.skip(1);
      break;
    case 60071: // Basic.GetOk: delivery-tag, redelivered, exchange, routing-key, message-count
      c.skip(9);
      rec.exchange = shortstr(c, lim, ev);
      rec.routingKey = shortstr(c, lim, ev);
      c.skip(4);
      break;
    default:
      break;
  }
  return { malformed: c.err, events: ev };
}

/** Content header (§4.2.6.1): class-id, weight, body-size (u64). Returns the body size or -1. */
export function parseContentHeader(c: Cursor): { classId: number; bodySize: number } | null {
  const cls = c.u16();
  c.skip(2);
  const size = c.u64();
  return c.err ? null : { classId: cls, bodySize: size };
}
