import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defineProtocol, match, NO_EVENTS, no } from '../src/index.js';
import { createRandom, fuzzProtocol, mutate } from '../src/testing/index.js';
import { faultyProtocol, prefixProtocol } from './toy-protocols.js';

test('the PRNG is deterministic per seed', () => {
  const a = createRandom(42);
  const b = createRandom(42);
  const c = createRandom(43);
  const sa = [a.next(), a.next(), a.int(1000)];
  assert.equal(sa, [b.next(), b.next(), b.int(1000)]);
  assert.not.equal(sa, [c.next(), c.next(), c.int(1000)]);
  assert.is(createRandom(1).bytes(7).length, 7);
});

test('mutations change the input and stay bounded', () => {
  const random = createRandom(7);
  const seed = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
  let changed = 0;
  for (let i = 0; i < 1000; i++) {
    const out = mutate(random, seed, [seed]);
    assert.ok(out.length < seed.length + 400);
    if (out.length !== seed.length || out.some((v, j) => v !== seed[j])) changed++;
  }
  assert.ok(changed > 900, `only ${changed} of 1000 mutations changed the input`);
  assert.equal(
    seed,
    Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]),
    'the seed itself is never modified',
  );
});

test('a well-behaved protocol fuzzes clean', () => {
  const report = fuzzProtocol(prefixProtocol('alpha', 0x41).create(), {
    seeds: [Uint8Array.from([0x41, 1]), Uint8Array.from([0xff, 1])],
    iterations: 20_000,
    seed: 3,
  });
  assert.is(report.iterations, 20_000);
  assert.equal(report.failures, []);
  assert.ok(report.verdicts.match! > 0 && report.verdicts.no! > 0);
});

test('the harness catches a throwing probe and tracker', () => {
  const probeReport = fuzzProtocol(faultyProtocol('bad', 'probe').create(), {
    seeds: [],
    iterations: 100,
  });
  assert.ok(probeReport.failures.some((f) => f.stage === 'probe'));
  const trackerReport = fuzzProtocol(faultyProtocol('bad', 'tracker').create(), {
    seeds: [],
    iterations: 100,
  });
  assert.ok(trackerReport.failures.some((f) => f.stage === 'tracker'));
});

test('the harness catches reason codes missing from the reasons table', () => {
  const sloppy = defineProtocol({
    name: 'sloppy',
    version: '1.0.0',
    reasons: { ok: 'documented' },
    defaults: {},
    build: () => {
      const yes = match('default', 'ok');
      const secret = no('undocumented_code');
      return {
        probe: (d) => (d.data.length > 10 ? yes : secret),
        routingKey: () => null,
        createTracker: () => ({ observe: () => NO_EVENTS, key: () => null, stats: () => ({}) }),
      };
    },
  }).create();
  const report = fuzzProtocol(sloppy, { seeds: [], iterations: 1000 });
  assert.equal(report.undocumentedReasons, ['undocumented_code']);
  assert.ok(report.failures.some((f) => f.stage === 'reason'));
});

test('the extra hook fuzzes a standalone parser', () => {
  const report = fuzzProtocol(prefixProtocol('alpha', 0x41).create(), {
    seeds: [],
    iterations: 500,
    extra: (data) => {
      if (data.length === 0) throw new Error('empty input');
    },
  });
  assert.ok(report.failures.some((f) => f.stage === 'extra'));
});

test.run();
