import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createClassifier,
  createRegistry,
  defineProtocol,
  NO_EVENTS,
  needMore,
  type PluginFault,
} from '../src/index.js';
import { datagram, faultyProtocol, pairProtocol, prefixProtocol } from './toy-protocols.js';

test('first matching protocol in registry order wins and the flow is pinned', () => {
  const a = prefixProtocol('alpha', 0x41).create();
  const b = prefixProtocol('beta', 0x41).create();
  const classifier = createClassifier(createRegistry({ protocols: [a, b] }));
  const flow = classifier.flow();
  const result = flow.offer(datagram([0x41, 7]));
  assert.is(result.state, 'matched');
  assert.is(result.state === 'matched' && result.protocol.name, 'alpha');
  // Pinned: a datagram that alpha would reject does not change the outcome.
  assert.is(flow.offer(datagram([0x00])), result);
});

test('need-more keeps a protocol as candidate, and history reaches the next probe', () => {
  const classifier = createClassifier(
    createRegistry({ protocols: [pairProtocol('pair', 0x50).create()] }),
  );
  const flow = classifier.flow();
  assert.is(flow.offer(datagram([0x50])).state, 'pending');
  assert.is(flow.history.length, 1);
  const result = flow.offer(datagram([0x50], 'reverse'));
  assert.is(result.state, 'matched');
});

test('every protocol saying no gives unknown with each verdict recorded', () => {
  const classifier = createClassifier(
    createRegistry({
      protocols: [prefixProtocol('alpha', 0x41).create(), pairProtocol('pair', 0x50).create()],
    }),
  );
  const result = classifier.flow().offer(datagram([0x99]));
  assert.equal(result, {
    state: 'unknown',
    reason: 'no_protocol_matched',
    verdicts: { alpha: 'no_magic', pair: 'no_magic' },
  });
});

test('the need-more window is bounded per direction', () => {
  const classifier = createClassifier(
    createRegistry({ protocols: [pairProtocol('pair', 0x50).create()] }),
    {
      window: 1,
    },
  );
  const flow = classifier.flow();
  // pair never matches on its first datagram; with a window of 1 the flow is decided at once.
  assert.is(flow.offer(datagram([0x50])).state, 'unknown');

  const wider = createClassifier(createRegistry({ protocols: [neverDecides()] }), {
    window: 3,
  }).flow();
  assert.is(wider.offer(datagram([1])).state, 'pending');
  assert.is(wider.offer(datagram([1], 'reverse')).state, 'pending');
  assert.is(wider.offer(datagram([1])).state, 'pending');
  assert.is(wider.offer(datagram([1], 'reverse')).state, 'pending');
  const last = wider.offer(datagram([1]));
  assert.is(last.state === 'unknown' && last.reason, 'window_exhausted');
});

test('an empty registry classifies everything as unknown', () => {
  const flow = createClassifier(createRegistry({ protocols: [] })).flow();
  const result = flow.offer(datagram([1]));
  assert.is(result.state === 'unknown' && result.reason, 'empty_registry');
});

test('a probe that throws is isolated, reported, and the next protocol still runs', () => {
  const faults: PluginFault[] = [];
  const classifier = createClassifier(
    createRegistry({
      protocols: [faultyProtocol('bad', 'probe').create(), prefixProtocol('good', 0x41).create()],
    }),
    { onFault: (fault) => faults.push(fault) },
  );
  const result = classifier.flow().offer(datagram([0x41, 1]));
  assert.is(result.state === 'matched' && result.protocol.name, 'good');
  assert.is(faults.length, 1);
  assert.is(faults[0]!.protocol, 'bad');
  assert.is(faults[0]!.stage, 'probe');
});

test('window must be a sane integer', () => {
  const registry = createRegistry({ protocols: [] });
  for (const window of [0, -1, 1.5, 65]) {
    assert.throws(() => createClassifier(registry, { window }), /GM_CORE_INVALID_OPTION/);
  }
});

// Always asks for more: only the window can decide its flows.
function neverDecides() {
  const waiting = needMore('waiting');
  return defineProtocol({
    name: 'never',
    version: '1.0.0',
    reasons: { waiting: 'always needs more' },
    defaults: {},
    build: () => ({
      probe: () => waiting,
      routingKey: () => null,
      createTracker: () => ({ observe: () => NO_EVENTS, key: () => null, stats: () => ({}) }),
    }),
  }).create();
}

test.run();
