import {
  createClassifier,
  createFlow,
  createRegistry,
  type Datagram,
  type Flow,
  type LifecycleEvent,
} from '@gamemesh/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { kcp, parseSegments, unwrapKcp } from '../../src/kcp/index.js';
import {
  CLEAN_CONV,
  cryptNoneExchange,
  fecExchange,
  KCP2K_COOKIE,
  kcp2kExchange,
  LOSSY_CONV,
  rawExchange,
} from './vectors.js';

const protocol = kcp.create();

function classify(datagrams: readonly Datagram[]): { flow: Flow; events: LifecycleEvent[] } {
  const flow = createFlow(createClassifier(createRegistry({ protocols: [protocol] })));
  const events: LifecycleEvent[] = [];
  for (const datagram of datagrams) events.push(...flow.observe(datagram));
  return { flow, events };
}

function stat(flow: Flow, name: string): number {
  const value = flow.stats()?.[name];
  assert.type(value, 'number', `${name} should be a number`);
  return value as number;
}

test('raw: two real node-kcp conversations at once, keyed by conv, with loss, retransmissions and RTT', async () => {
  const result = await rawExchange();
  assert.equal(result.echoed, [12, 12], 'every message was echoed despite the loss');
  const [lossy, clean] = result.flows;
  for (const [datagrams, conv] of [
    [lossy!, LOSSY_CONV],
    [clean!, CLEAN_CONV],
  ] as const) {
    const { flow, events } = classify(datagrams);
    assert.is(flow.classification.state, 'matched');
    if (flow.classification.state === 'matched') {
      assert.is(flow.classification.variant, 'raw');
      assert.is(flow.classification.reason, 'push_segment');
    }
    assert.is(flow.key(), String(conv));
    assert.is(protocol.routingKey(datagrams[0]!), String(conv));
    assert.equal(events.filter((e) => e.type === 'opened').length, 1);
    assert.is(events[0]?.type === 'opened' ? events[0].detail?.conv : null, conv);
    assert.is(
      events.some((e) => e.type === 'closed'),
      false,
      'raw KCP never closes by protocol',
    );
    // Every datagram of the flow walks; the 3000-byte message shows up as fragments.
    assert.is(stat(flow, 'invalid'), 0);
    assert.is(stat(flow, 'datagrams'), datagrams.length);
    const fragments = datagrams.flatMap((d) => {
      const parsed = parseSegments(d.data);
      return parsed.ok ? parsed.segments.filter((s) => s.cmd === 81 && s.frg > 0) : [];
    });
    assert.ok(fragments.length >= 2, 'fragmented message seen');
    // 12 messages + 2 extra fragments each way: sn 0..13.
    assert.is(stat(flow, 'maxSnForward'), 13);
    assert.is(stat(flow, 'maxSnReverse'), 13);
    assert.is(stat(flow, 'unaForward'), 14, 'client has received all 14 server segments');
    assert.ok(stat(flow, 'rttSamples') > 0);
    assert.ok(stat(flow, 'rttMs') > 0 && stat(flow, 'rttMs') < 1000, `rtt ${stat(flow, 'rttMs')}`);
    assert.ok(stat(flow, 'rttUpstreamMs') >= 0 && stat(flow, 'rttDownstreamMs') >= 0);
  }
  const lossyFlow = classify(lossy!).flow;
  assert.ok(
    stat(lossyFlow, 'retransmissions') > 0,
    'dropped ACKs made the client resend PUSHes the relay had seen',
  );
  assert.ok(stat(lossyFlow, 'retransmissionsForward') > 0, 'the unacknowledged side is the client');
  assert.is(
    stat(lossyFlow, 'retransmissions'),
    stat(lossyFlow, 'retransmissionsForward') + stat(lossyFlow, 'retransmissionsReverse'),
  );
  assert.ok(stat(lossyFlow, 'pushesForward') > 14, 'resent PUSHes are counted as pushes too');
});

test('raw: conv low byte 0x90 (reads as RTP V=2, PROTOCOLS.md §5.2) is matched by the KCP walk', async () => {
  const result = await rawExchange();
  const first = result.flows[0]![0]!;
  assert.is(first.data[0], 0x90);
  assert.is(first.data[0]! >> 6, 2, 'byte 0 has RTP version bits 2');
  const verdict = protocol.probe(first, []);
  assert.is(verdict.verdict, 'match');
});

test('kcp-go FEC: data shards walk at 8, parity shards are counted, not walked', async () => {
  const result = await fecExchange();
  assert.equal(result.echoed, [12]);
  const datagrams = result.flows[0]!;
  const { flow, events } = classify(datagrams);
  assert.is(flow.classification.state === 'matched' && flow.classification.variant, 'fec');
  assert.is(flow.key(), String(0xfec0001));
  assert.is(events[0]?.type, 'opened');
  const parity = datagrams.filter((d) => d.data[4] === 0xf2).length;
  assert.ok(parity > 0);
  assert.is(stat(flow, 'fecParity'), parity);
  assert.is(stat(flow, 'fecData'), datagrams.length - parity);
  assert.is(stat(flow, 'invalid'), 0);
  assert.ok(stat(flow, 'rttSamples') > 0);
  const shard = unwrapKcp(datagrams.find((d) => d.data[4] === 0xf2)!.data, protocol.config);
  assert.ok(shard.ok && shard.kcp === null && shard.fecType === 0xf2);
});

for (const withFec of [false, true]) {
  test(`kcp-go crypt=none${withFec ? ' over FEC' : ''}: CRC-verified, matched on the first datagram`, async () => {
    const result = await cryptNoneExchange(withFec);
    assert.equal(result.echoed, [12]);
    const datagrams = result.flows[0]!;
    assert.equal(protocol.probe(datagrams[0]!, []), {
      verdict: 'match',
      variant: 'crypt-none',
      reason: 'crc_verified',
    });
    const { flow } = classify(datagrams);
    assert.is(flow.key(), String(withFec ? 0xc0de0002 : 0xc0de0001));
    assert.is(stat(flow, 'invalid'), 0);
    assert.is(stat(flow, 'fecParity') > 0, withFec);
    assert.ok(stat(flow, 'pushes') >= 28);
    // One flipped payload bit breaks the CRC: never KCP then.
    const broken = datagrams[0]!.data.slice();
    broken[broken.length - 1] = broken[broken.length - 1]! ^ 1;
    assert.is(protocol.probe({ ...datagrams[0]!, data: broken }, []).verdict, 'no');
  });
}

test('kcp2k: conv 0 behind channel + cookie, keyed by cookie, closed by the unreliable Disconnect', async () => {
  const result = await kcp2kExchange();
  assert.equal(result.echoed, [12]);
  const datagrams = result.flows[0]!;
  assert.is(datagrams[0]!.data[0], 1, 'client Hello-equivalent on the reliable channel');
  assert.is(
    protocol.routingKey(datagrams[0]!),
    null,
    'the client sends cookie 0 until the server assigns one',
  );
  const { flow, events } = classify(datagrams);
  assert.is(flow.classification.state === 'matched' && flow.classification.variant, 'kcp2k');
  assert.is(flow.key(), String(KCP2K_COOKIE));
  const closes = events.filter((e) => e.type === 'closed');
  assert.is(closes.length, 1, 'five Disconnects, one close');
  assert.is(closes[0]?.type === 'closed' && closes[0].reason, 'protocol_disconnect');
  assert.is(flow.closed?.reason, 'protocol_disconnect');
  assert.is(
    stat(flow, 'kcp2kUnreliable'),
    3,
    'two data messages + the first Disconnect before the tracker stopped',
  );
  assert.is(flow.stats()?.cookie, KCP2K_COOKIE);
  assert.is(stat(flow, 'invalid'), 0);
});

test.run();
