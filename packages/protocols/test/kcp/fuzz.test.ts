import { fuzzProtocol } from '@gamemesh/core/testing';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { kcp, parseSegments, unwrapKcp } from '../../src/kcp/index.js';
import { cryptNoneExchange, fecExchange, kcp2kExchange, rawExchange } from './vectors.js';

test('fuzz: probe, routing key, tracker, walk and unwrap never throw; all reasons documented (1M inputs)', async () => {
  const results = [
    await rawExchange(),
    await fecExchange(),
    await cryptNoneExchange(false),
    await cryptNoneExchange(true),
    await kcp2kExchange(),
  ];
  const seeds = results.flatMap((r) => r.datagrams.map((d) => d.data));
  assert.ok(seeds.length > 100, `${seeds.length} real seeds`);
  const protocol = kcp.create();
  const report = fuzzProtocol(protocol, {
    seeds,
    iterations: 1_000_000,
    seed: 0x6b6370,
    timeBudgetMs: 20_000,
    extra: (data) => {
      parseSegments(data);
      parseSegments(data, 5);
      unwrapKcp(data, protocol.config);
    },
  });
  assert.equal(report.failures, [], JSON.stringify(report.failures.slice(0, 3)));
  assert.ok(report.iterations >= 1_000_000, `reached ${report.iterations}`);
  assert.ok(
    report.verdicts.match! > 0 && report.verdicts['need-more']! > 0 && report.verdicts.no! > 0,
    JSON.stringify(report.verdicts),
  );
  console.log(`kcp fuzz: ${report.iterations} inputs, verdicts ${JSON.stringify(report.verdicts)}`);
});

test.run();
