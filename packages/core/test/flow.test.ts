import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createClassifier,
  createFlow,
  createRegistry,
  createSessionBook,
  type PluginFault,
} from '../src/index.js';
import { datagram, faultyProtocol, pairProtocol, prefixProtocol } from './toy-protocols.js';

test('a matched flow replays the pending datagrams into its tracker, then counts and tracks', () => {
  const classifier = createClassifier(
    createRegistry({ protocols: [pairProtocol('pair', 0x50).create()] }),
  );
  const flow = createFlow(classifier);
  flow.observe(datagram([0x50, 1, 2]));
  assert.is(flow.stats(), null);
  flow.observe(datagram([0x50, 3], 'reverse'));
  flow.observe(datagram([0x00]));
  assert.equal(flow.stats(), { seen: 3 });
  assert.equal(flow.packets, { forward: 2, reverse: 1 });
  assert.equal(flow.bytes, { forward: 4, reverse: 2 });
});

test('lifecycle: opened with key and detail, closed by the protocol', () => {
  const classifier = createClassifier(
    createRegistry({ protocols: [prefixProtocol('alpha', 0x41).create()] }),
  );
  const flow = createFlow(classifier);
  const opened = flow.observe(datagram([0x41, 9]));
  assert.is(opened.length, 1);
  assert.is(flow.opened?.key, '9');
  assert.equal(flow.opened?.detail, { seen: 1 });
  assert.is(flow.key(), '9');
  assert.is(flow.closed, null);
  flow.observe(datagram([0xff, 9], 'reverse'));
  assert.is(flow.closed?.reason, 'protocol_disconnect');
});

test('config reaches the tracker: a different close byte', () => {
  const protocol = prefixProtocol('alpha', 0x41).create({ closeByte: 0xee });
  const flow = createFlow(createClassifier(createRegistry({ protocols: [protocol] })));
  flow.observe(datagram([0x41, 1]));
  flow.observe(datagram([0xff]));
  assert.is(flow.closed, null);
  flow.observe(datagram([0xee]));
  assert.is(flow.closed?.reason, 'protocol_disconnect');
});

test('a tracker that throws is detached: the flow closes with plugin_error and keeps counting', () => {
  const faults: PluginFault[] = [];
  const classifier = createClassifier(
    createRegistry({ protocols: [faultyProtocol('bad', 'tracker').create()] }),
  );
  const flow = createFlow(classifier, { onFault: (fault) => faults.push(fault) });
  flow.observe(datagram([1]));
  flow.observe(datagram([2]));
  assert.is(flow.closed?.reason, 'plugin_error');
  assert.is(flow.trackerFault, 'tracker exploded');
  assert.is(flow.packets.forward, 2);
  assert.is(faults.length, 1);
  assert.is(faults[0]!.stage, 'tracker');
});

test('unknown flows still count packets and bytes', () => {
  const flow = createFlow(
    createClassifier(createRegistry({ protocols: [prefixProtocol('a', 1).create()] })),
  );
  flow.observe(datagram([9, 9, 9]));
  flow.observe(datagram([9], 'reverse'));
  assert.is(flow.classification.state, 'unknown');
  assert.equal(flow.packets, { forward: 1, reverse: 1 });
  assert.is(flow.stats(), null);
});

test('the session book closes every flow of a family sharing the key', () => {
  const protocol = prefixProtocol('alpha', 0x41).create();
  const classifier = createClassifier(createRegistry({ protocols: [protocol] }));
  const book = createSessionBook();
  const media = createFlow(classifier);
  const control = createFlow(classifier);
  const other = createFlow(classifier);
  media.observe(datagram([0x41, 5]));
  control.observe(datagram([0x41, 5]));
  other.observe(datagram([0x41, 6]));
  for (const flow of [media, control, other]) book.index('alpha', flow);
  const events = control.observe(datagram([0xff, 5]));
  assert.is(control.closed?.reason, 'protocol_disconnect');
  assert.is(book.route('alpha', events), 1);
  assert.is(media.closed?.reason, 'protocol_disconnect');
  assert.is(other.closed, null);
  book.forget(media);
  assert.is(book.route('alpha', events), 0);
});

test('close from outside is recorded once', () => {
  const flow = createFlow(createClassifier(createRegistry({ protocols: [] })));
  flow.close('idle', 10);
  flow.close('evicted', 20);
  assert.equal(flow.closed, { at: 10, reason: 'idle' });
});

test.run();
