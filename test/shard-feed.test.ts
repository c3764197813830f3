// A flow worker reading its own eBPF ring's FIFO (per-worker rings, issue 21) holds back when the
// main thread falls behind: after 8 batches of records the main thread has not acknowledged, it
// stops reading the FIFO (so the kernel ring would fill and count its losses), and it reads on,
// losing nothing, once they are acknowledged. The worker is the built one (dist/worker.mjs); the
// test writes the loader's framing into the FIFO itself: per flow a SYN and the kernel's flow end.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { frame, F } from './helpers/packets.js';
import { RecordDecoder, type EncodedBatch } from '../src/runtime/record-codec.js';
import { workerInit } from '../src/runtime/replay.js';
import type { FromWorker } from '../src/runtime/worker.js';

const dir = mkdtempSync(join(tmpdir(), 'ndr-feed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The loader's record framing: u32 length after it, u8 type, three zero bytes, payload. */
function rec(type: number, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(8 + payload.length);
  b.writeUInt32LE(4 + payload.length, 0);
  b[4] = type;
  b.set(payload, 8);
  return b;
}

/** Flow k: client 10.0.x.y:40000 -> 10.9.9.9:80, its SYN and a FIN flow end with the kernel's counters. */
function flowRecords(k: number, tsMs: number): Buffer {
  const client = `10.0.${k >> 8}.${k & 255}`;
  const syn = frame({ src: client, dst: '10.9.9.9', sport: 40000, dport: 80, flags: F.SYN, ts: tsMs });
  const pkt = Buffer.alloc(16 + syn.length);
  pkt.writeBigUInt64LE(BigInt(tsMs) * 1_000_000n, 0);
  pkt.writeUInt32LE(syn.length, 8);
  pkt.set(syn, 16);
  const end = Buffer.alloc(144);
  end[0] = 4; // family
  end[1] = 6; // TCP
  end[2] = 1; // fin
  end[3] = 0; // first packet a -> b (the client is the smaller address: a)
  end[4] = 1; // SYN from a
  end.writeUInt16LE(40000, 8);
  end.writeUInt16LE(80, 10);
  end.set([10, 0, k >> 8, k & 255], 16);
  end.set([10, 9, 9, 9], 32);
  for (const [off, packets] of [[48, 3], [96, 2]] as const) {
    end.writeBigUInt64LE(BigInt(packets), off);
    end.writeBigUInt64LE(BigInt(packets * 60), off + 8);
    end.writeBigUInt64LE(BigInt(tsMs) * 1_000_000n, off + 16);
    end.writeBigUInt64LE(BigInt(tsMs + 5) * 1_000_000n, off + 24);
  }
  return Buffer.concat([rec(1, pkt), rec(2, end)]);
}

describe('a worker reading its own ring', () => {
  it('stops reading while 8 batches are unacknowledged, then reads on and loses nothing', async () => {
    const path = join(dir, 'ring');
    execFileSync('mkfifo', [path]);
    const w = new Worker(new URL('../dist/worker.mjs', import.meta.url), { workerData: { ndrWorker: true, init: workerInit({}) } });
    const outs: FromWorker[] = [];
    let opened = false;
    w.on('message', (m: FromWorker) => {
      if (m.type === 'feed-out') outs.push(m);
      if (m.type === 'feed-open') opened = true;
    });
    try {
      w.postMessage({ type: 'feed', path, key: 'test' });
      for (let i = 0; i < 200 && !opened; i++) await sleep(25);
      expect(opened).toBe(true);
      const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
      const t0 = Date.parse('2026-12-07T12:00:00Z');
      let flows = 0;
      // One flow at a time, each read on its own: every one makes a batch of records.
      while (outs.length < 8 && flows < 200) {
        writeSync(fd, flowRecords(flows, t0 + flows));
        flows++;
        for (let i = 0; i < 40 && outs.length < Math.min(8, flows); i++) await sleep(5);
      }
      expect(outs).toHaveLength(8);
      // Now nothing is read: the FIFO fills (each write is under PIPE_BUF, so all of it or nothing).
      let full = false;
      for (let i = 0; i < 5000 && !full; i++) {
        try { writeSync(fd, flowRecords(flows, t0 + flows)); flows++; } catch (e) { full = (e as NodeJS.ErrnoException).code === 'EAGAIN'; }
        if (i % 100 === 99) await sleep(1);
      }
      expect(full).toBe(true);
      await sleep(200);
      expect(outs).toHaveLength(8);
      // Acknowledged: the worker reads on; every flow written comes back as one record.
      const dec = new RecordDecoder();
      let acked = 0;
      let records = 0;
      for (let i = 0; i < 400 && records < flows; i++) {
        while (acked < outs.length) {
          const m = outs[acked++] as Extract<FromWorker, { type: 'feed-out' }>;
          records += dec.decode(m.flows as EncodedBatch).length;
          w.postMessage({ type: 'feed-ack' });
        }
        await sleep(10);
      }
      closeSync(fd);
      expect(outs.length).toBeGreaterThan(8);
      expect(records).toBe(flows);
    } finally {
      await w.terminate();
    }
  });
});
