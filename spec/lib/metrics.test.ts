// plugins/lib/metrics.ts: one registry per process, decisions with a cap on distinct label sets.
import {
  bulwarkMetrics,
  countDecision,
  metricsExposition,
  MAX_DECISION_SERIES,
  OVERFLOW,
} from '../../plugins/lib/metrics';
import { parseListenAddress } from '../../kong/pluginserver/metrics-listener';

test('decisions are counted per plugin, decision, reason and route', async () => {
  countDecision({ plugin: 'bulwark-jwt', decision: 'deny', reason: 'token_expired', route: 'orders' });
  countDecision({ plugin: 'bulwark-jwt', decision: 'deny', reason: 'token_expired', route: 'orders' });
  const { body } = await metricsExposition();
  expect(body).toContain(
    'bulwark_decisions_total{plugin="bulwark-jwt",decision="deny",reason="token_expired",route="orders"} 2',
  );
});

test('past the cap of label sets, new ones go to the overflow set (plugin and decision kept) and are counted', async () => {
  const m = bulwarkMetrics();
  const before = m.decisionSeries.size;
  for (let i = before; i < MAX_DECISION_SERIES + 50; i++)
    countDecision({ plugin: 'bulwark-validator', decision: 'deny', reason: 'r', route: `route-${i}` });
  expect(m.decisionSeries.size).toBe(MAX_DECISION_SERIES);
  const { body } = await metricsExposition();
  expect(body).toContain(
    `bulwark_decisions_total{plugin="bulwark-validator",decision="deny",reason="${OVERFLOW}",route="${OVERFLOW}"} 50`,
  );
  expect(body).toContain('bulwark_metrics_overflow_total{metric="bulwark_decisions_total"} 50');
  // A label set seen before the cap is still counted as itself.
  countDecision({ plugin: 'bulwark-jwt', decision: 'deny', reason: 'token_expired', route: 'orders' });
  expect((await metricsExposition()).body).toContain(
    'bulwark_decisions_total{plugin="bulwark-jwt",decision="deny",reason="token_expired",route="orders"} 3',
  );
});

test('one registry per process, even for a second copy of the module', () => {
  const first = bulwarkMetrics();
  jest.isolateModules(() => {
    const copy = require('../../plugins/lib/metrics') as typeof import('../../plugins/lib/metrics');
    expect(copy.bulwarkMetrics()).toBe(first);
  });
});

test('--metrics-listen addresses', () => {
  expect(parseListenAddress('127.0.0.1:9542')).toEqual({ host: '127.0.0.1', port: 9542 });
  expect(parseListenAddress(':9542')).toEqual({ host: '127.0.0.1', port: 9542 });
  expect(parseListenAddress('[::1]:9542')).toEqual({ host: '::1', port: 9542 });
  expect(parseListenAddress('0.0.0.0:0')).toEqual({ host: '0.0.0.0', port: 0 });
  expect(() => parseListenAddress('9542')).toThrow(/--metrics-listen must be HOST:PORT/);
  expect(() => parseListenAddress('host:99999')).toThrow(/--metrics-listen/);
});
