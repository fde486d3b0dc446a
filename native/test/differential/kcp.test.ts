import type { Datagram } from '@gamemesh/core';
import { kcp } from '@gamemesh/protocols';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fuzzedSequences } from './fuzz-sequences.js';
import { classifiedKcpVariant, type KcpProtocol, nativeKcpConfig } from './kcp-native.js';
import { importProtocolsTestModule } from './protocols-test-modules.js';
import { compareTrackers, fixtureFlows, type NativeRun, nativeStat } from './support.js';

/**
 * KCP: the native tracker (native/src/trackers/kcp.c) against the TS
 * tracker (packages/protocols/src/kcp/tracker.ts) on the committed capture,
 * on live node-kcp conversations in every framing (raw with loss, kcp-go FEC,
 * crypt=none with and without FEC, kcp2k), and on 100k mutated sequences.
 */

type KcpVectors = typeof import('../../../packages/protocols/test/kcp/vectors.js');

const defaults = kcp.create();

function compare(
  datagrams: readonly Datagram[],
  variant: string,
  protocol: KcpProtocol = defaults,
) {
  const tracker = protocol.createTracker({ variant });
  return compareTrackers(tracker, 'kcp', nativeKcpConfig(variant, protocol), datagrams);
}

/** Agreement, plus proof that the native tracker parsed the traffic rather than returning defaults. */
function assertAgree(datagrams: readonly Datagram[], label: string): NativeRun {
  const variant = classifiedKcpVariant(datagrams);
  const { native, diff } = compare(datagrams, variant);
  assert.equal(diff, [], `${label}: ${diff.join('; ')}`);
  assert.is(native.events[0]?.type, 'opened', `${label}: native opened the session`);
  assert.is(native.stats.datagrams, datagrams.length, `${label}: native counted every datagram`);
  assert.is(native.stats.invalid, 0, `${label}: every real datagram walks natively`);
  assert.ok(nativeStat(native, 'segments') > 0, `${label}: native walked segments`);
  return native;
}

let vectors: KcpVectors | null = null;
const loadVectors = async (): Promise<KcpVectors> =>
  (vectors ??= await importProtocolsTestModule<KcpVectors>('kcp/vectors'));

/** Every real sequence seen by the tests, kept as seeds for the mutated sequences. */
const realFlows: Datagram[][] = [];

test('capture: every flow of kcp-session.pcap (both legs of two conversations) agrees', async () => {
  const flows = await fixtureFlows('kcp', 'kcp-session.pcap');
  assert.is(flows.length, 4, 'two conversations, each seen client-relay and relay-server');
  let retransmissions = 0;
  let rttSamples = 0;
  for (const [i, flow] of flows.entries()) {
    const native = assertAgree(flow, `capture flow ${i}`);
    retransmissions += nativeStat(native, 'retransmissions');
    rttSamples += nativeStat(native, 'rttSamples');
    realFlows.push(flow);
  }
  assert.ok(retransmissions > 0, 'the lossy conversation retransmits');
  assert.ok(rttSamples > 0, 'RTT was sampled natively');
});

test('live: raw node-kcp with loss and a clean conversation agree', async () => {
  const { rawExchange } = await loadVectors();
  const result = await rawExchange();
  assert.equal(result.echoed, [12, 12]);
  const lossy = assertAgree([...result.flows[0]!], 'raw lossy');
  assertAgree([...result.flows[1]!], 'raw clean');
  assert.ok(nativeStat(lossy, 'retransmissionsForward') > 0, 'resent PUSHes counted natively');
  realFlows.push(...result.flows.map((flow) => [...flow]));
});

test('live: kcp-go FEC and crypt=none (with and without FEC) agree', async () => {
  const { fecExchange, cryptNoneExchange } = await loadVectors();
  const fec = await fecExchange();
  const native = assertAgree([...fec.flows[0]!], 'fec');
  assert.ok(
    nativeStat(native, 'fecParity') > 0 && nativeStat(native, 'fecData') > 0,
    'FEC shards counted natively',
  );
  realFlows.push([...fec.flows[0]!]);
  for (const withFec of [false, true]) {
    const crypt = await cryptNoneExchange(withFec);
    const flow = [...crypt.flows[0]!];
    assert.is(classifiedKcpVariant(flow), 'crypt-none');
    assertAgree(flow, `crypt-none${withFec ? ' over FEC' : ''}`);
    realFlows.push(flow);
  }
});

test('live: kcp2k agrees, keyed by cookie and closed by the unreliable Disconnect', async () => {
  const { kcp2kExchange, KCP2K_COOKIE } = await loadVectors();
  const result = await kcp2kExchange();
  const flow = [...result.flows[0]!];
  const native = assertAgree(flow, 'kcp2k');
  assert.equal(
    native.events.map((e) => [e.type, e.key, e.reason]),
    // The client's first datagram carries cookie 0: the key is known from the server's first reply on.
    [
      ['opened', null, null],
      ['closed', String(KCP2K_COOKIE), 'protocol_disconnect'],
    ],
  );
  assert.is(native.stats.cookie, KCP2K_COOKIE);
  assert.is(native.stats.closedByProtocol, 1);
  realFlows.push(flow);
});

test('a corrupted sequence changes both results, identically', () => {
  const original = realFlows.find((flow) => flow.length > 20)!;
  const variant = classifiedKcpVariant(original);
  const before = compare(original, variant).native;
  const corrupted = original.map((d, i) => {
    if (i === 5) return { ...d, data: d.data.subarray(0, d.data.length - 1) }; // breaks exact consumption
    if (i === 9) {
      const data = d.data.slice();
      data[0] = data[0]! ^ 0x01; // another conv: foreign
      return { ...d, data };
    }
    return d;
  });
  const after = compare(corrupted, variant);
  assert.equal(after.diff, [], after.diff.join('; '));
  assert.is(after.native.stats.invalid, nativeStat(before, 'invalid') + 1);
  assert.ok(nativeStat(after.native, 'foreign') + nativeStat(after.native, 'invalid') >= 2);
  assert.not.equal(after.native.stats, before.stats);
});

test('100k mutated sequences of the real ones agree (variants, framings and limits varied)', () => {
  assert.ok(realFlows.length >= 9, 'seeds from the capture and every live framing');
  const configs: KcpProtocol[] = [
    defaults,
    kcp.create({ fec: false }),
    kcp.create({ cryptNone: false, kcp2k: false }),
    kcp.create({ maxPushLength: 100 }),
  ];
  const variants = ['raw', 'fec', 'crypt-none', 'kcp2k', 'auto'];
  let sequences = 0;
  let opened = 0;
  for (const fuzzed of fuzzedSequences(realFlows, 100_000, 0x6b6370)) {
    // Every eighth sequence on a coarse clock: PUSH and ACK at the same instant (RTT 0) happen too.
    const sequence =
      sequences % 8 === 7 ? fuzzed.map((d) => ({ ...d, at: Math.floor(d.at / 50) * 50 })) : fuzzed;
    const protocol = configs[sequences % configs.length]!;
    const variant = variants[(sequences >> 2) % variants.length]!;
    const { native, diff } = compare(sequence, variant, protocol);
    if (diff.length > 0) {
      assert.unreachable(`sequence ${sequences} (${variant}): ${diff.join('; ')}`);
    }
    if (native.events.length > 0) opened++;
    sequences++;
  }
  assert.is(sequences, 100_000);
  assert.ok(opened > 10_000, `native sessions opened in ${opened} sequences`);
});

test.run();
