import { describe, expect, it } from 'vitest';
import { AnalyticsEngine } from './engine.js';
import { BaselineStore } from '../baseline/store.js';
import { IMG, T0, makeFlow } from '../../test/helpers/flows.js';

describe('AnalyticsEngine', () => {
  it('runs all five analytics, deduplicates within the window with a count, and re-raises after it', () => {
    const e = new AnalyticsEngine();
    const mk = (dt: number) => makeFlow({ startTs: T0 + dt, image: IMG.rundll32, server: { ip: '192.0.2.80', port: 4444 }, sni: null, client: { ip: '10.1.0.21', port: 50_000 + dt / 1000 } });
    expect(e.process(mk(0)).map((a) => a.analytic)).toEqual(['AN0922']);
    expect(e.process(mk(60_000))).toEqual([]);
    expect(e.process(mk(120_000))).toEqual([]);
    expect(e.process(mk(11 * 60_000))).toHaveLength(1); // past the 10 min window
    const all = e.drain();
    expect(all.map((a) => a.count)).toEqual([3, 1]);
    expect(e.stats).toMatchObject({ flows: 4, alerts: 2, folded: 2 });
  });
  it('fills flow.beacon from the tracker and feeds AN0002 the beacon', () => {
    const e = new AnalyticsEngine();
    let last = makeFlow();
    const alerts = [];
    for (let i = 0; i < 8; i++) {
      last = makeFlow({ startTs: T0 + i * 30_000, client: { ip: '10.1.0.21', port: 40_000 + i }, server: { ip: '198.51.100.20', port: 8883 }, sni: 'broker.iot-cloud.example', image: IMG.python, bytes: [700, 300], pubsub: { protocol: 'mqtt', encrypted: true, confidence: 0.8 } });
      alerts.push(...e.process(last));
    }
    expect(last.beacon!.basis).toBe('connections');
    expect(last.beacon!.tsScore).toBe(1);
    expect(alerts).toHaveLength(1); // deduped
    expect(e.drain()[0]!.count).toBe(8);
  });
  it('updates the baseline AFTER evaluating: the first flow of a silent image fires, the baseline then knows it', () => {
    const baseline = BaselineStore.open({ learningPeriodMs: 0 });
    const e = new AnalyticsEngine({ baseline });
    baseline.learn(makeFlow({ startTs: T0 - 1000, image: IMG.chrome })); // start learning (period 0: warm at once)
    const f = makeFlow({ image: IMG.notepad, imageNetworkHistory: true });
    expect(e.process(f).map((a) => a.analytic)).toEqual(['AN0759']);
    expect(baseline.imageNetworkFirstSeen(IMG.notepad)).toBe(T0);
    const g = makeFlow({ image: IMG.notepad, startTs: T0 + 20 * 60_000, server: { ip: '203.0.113.99', port: 443 } });
    expect(e.process(g)).toEqual([]);
  });
});

describe('analytics stage', () => {
  it('adapts the engine to the pipeline: first alert emitted, later ones counted on the same object, nothing held', async () => {
    const { createAnalyticsStage } = await import('./stage.js');
    const st = createAnalyticsStage();
    const emitted = [];
    for (let i = 0; i < 3; i++) emitted.push(...st.process(makeFlow({ startTs: T0 + i * 1000, image: IMG.rundll32, client: { ip: '10.1.0.21', port: 60_000 + i } })));
    expect(emitted).toHaveLength(1);
    expect(emitted[0]!.count).toBe(3);
    expect(st.drain()).toEqual([]);
    // a late attribution teaches the baseline
    const f = makeFlow({ image: IMG.python, sni: 'late.example' });
    st.late(f, f.attribution!);
    expect(st.engine.baseline.imageNetworkFirstSeen(IMG.python)).toBe(T0);
    // reconfigure applies new allowlists
    st.reconfigure({ ...st.engine.config, allowProcesses: ['rundll32.exe'] });
    expect(st.process(makeFlow({ startTs: T0 + 3600_000, image: IMG.rundll32 }))).toEqual([]);
    await st.close();
  });
});
