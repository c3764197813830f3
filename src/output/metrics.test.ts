import { describe, expect, it } from 'vitest';
import { Registry, sensorMetrics, startMetricsServer } from './metrics.js';

describe('metrics registry', () => {
  it('renders counters, labelled counters, gauges and histograms in the text format', () => {
    const r = new Registry();
    const c = r.counter('ndr_packets_total', 'Packets read');
    c.inc(); c.inc(41);
    const a = r.counter('ndr_alerts_total', 'Alerts\nby analytic', ['analytic']);
    a.labels({ analytic: 'AN0002' }).inc(2);
    a.labels({ analytic: 'we"ird\\' }).inc();
    const g = r.gauge('ndr_flows_active', 'Flows');
    g.set(10); g.dec(3);
    const h = r.histogram('ndr_enrich_latency_seconds', 'Latency', [0.01, 0.1, 1]);
    h.observe(0.005); h.observe(0.05); h.observe(0.05); h.observe(3);
    expect(r.render()).toBe([
      '# HELP ndr_packets_total Packets read',
      '# TYPE ndr_packets_total counter',
      'ndr_packets_total 42',
      '# HELP ndr_alerts_total Alerts\\nby analytic',
      '# TYPE ndr_alerts_total counter',
      'ndr_alerts_total{analytic="AN0002"} 2',
      'ndr_alerts_total{analytic="we\\"ird\\\\"} 1',
      '# HELP ndr_flows_active Flows',
      '# TYPE ndr_flows_active gauge',
      'ndr_flows_active 7',
      '# HELP ndr_enrich_latency_seconds Latency',
      '# TYPE ndr_enrich_latency_seconds histogram',
      'ndr_enrich_latency_seconds_bucket{le="0.01"} 1',
      'ndr_enrich_latency_seconds_bucket{le="0.1"} 3',
      'ndr_enrich_latency_seconds_bucket{le="1"} 3',
      'ndr_enrich_latency_seconds_bucket{le="+Inf"} 4',
      'ndr_enrich_latency_seconds_sum 3.105',
      'ndr_enrich_latency_seconds_count 4',
      '',
    ].join('\n'));
  });

  it('guards misuse', () => {
    const r = new Registry();
    const c = r.counter('x_total', 'x');
    expect(() => c.inc(-1)).toThrow(/only goes up/);
    c.setTotal(5); c.setTotal(3);
    expect(c.value).toBe(5);
    expect(() => r.counter('bad-name', 'x')).toThrow(/bad metric name/);
    expect(() => r.gauge('x_total', 'x')).toThrow(/registered differently/);
    expect(r.counter('x_total', 'x')).toBe(c);
    const l = r.counter('y_total', 'y', ['k']);
    expect(() => l.inc()).toThrow(/has labels/);
    expect(() => l.labels({})).toThrow(/missing label k/);
    expect(() => r.histogram('h', 'h', [1, 1])).toThrow(/increase/);
  });

  it('serves /metrics and /healthz over HTTP', async () => {
    const r = new Registry();
    const m = sensorMetrics(r);
    m.packets.inc(7);
    m.dissectorEvents.labels({ event: 'tls.record.oversized' }).inc();
    let depth = 3;
    m.spoolDepth.collectWith(() => depth);
    let healthy = true;
    const srv = await startMetricsServer('127.0.0.1:0', { registry: r, health: () => ({ ok: healthy, detail: healthy ? '' : 'loader died' }) });
    try {
      const base = `http://127.0.0.1:${srv.port}`;
      let res = await fetch(`${base}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      let body = await res.text();
      expect(body).toContain('\nndr_packets_total 7\n');
      expect(body).toContain('ndr_dissector_events_total{event="tls.record.oversized"} 1');
      expect(body).toContain('\nndr_spool_depth_records 3\n');
      depth = 9;
      body = await (await fetch(`${base}/metrics`)).text();
      expect(body).toContain('\nndr_spool_depth_records 9\n');
      res = await fetch(`${base}/healthz`);
      expect([res.status, await res.text()]).toEqual([200, 'ok\n']);
      healthy = false;
      res = await fetch(`${base}/healthz`);
      expect([res.status, await res.text()]).toEqual([503, 'unhealthy: loader died\n']);
      expect((await fetch(`${base}/nope`)).status).toBe(404);
      expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      await srv.close();
    }
    await expect(startMetricsServer('nonsense')).rejects.toThrow(/host:port/);
  });
});
