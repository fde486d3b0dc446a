import type { Datagram } from '@gamemesh/core';
import { raknet } from '@gamemesh/protocols';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fuzzedSequences } from './fuzz-sequences.js';
import { importProtocolsTestModule } from './protocols-test-modules.js';
import { compareTrackers, fixtureFlows, type NativeRun, nativeStat } from './support.js';

/**
 * RakNet: the native tracker (native/src/trackers/raknet.c) against the TS
 * tracker (packages/protocols/src/raknet/tracker.ts) on the committed
 * raknet-native capture, on live raknet-native sessions (protocol 10 and 11)
 * through a recording relay, and on 100k mutated sequences.
 */

type RakNetSessions = typeof import('../../../packages/protocols/test/raknet/raknet-session.js');

const protocol = raknet.create();

function compare(datagrams: readonly Datagram[]) {
  return compareTrackers(protocol.createTracker({ variant: 'offline' }), 'raknet', {}, datagrams);
}

/** Every datagram lands in exactly one native counter. */
function countedDatagrams(native: NativeRun): number {
  return [
    'forwardDatagrams',
    'reverseDatagrams',
    'ackDatagrams',
    'nakDatagrams',
    'offlineMessages',
    'malformedDatagrams',
  ]
    .map((name) => nativeStat(native, name))
    .reduce((a, b) => a + b, 0);
}

/** Agreement, plus proof that the native tracker parsed a whole real session. */
function assertSession(
  datagrams: readonly Datagram[],
  clientGuid: string | null,
  label: string,
): NativeRun {
  const { native, diff } = compare(datagrams);
  assert.equal(diff, [], `${label}: ${diff.join('; ')}`);
  assert.is(countedDatagrams(native), datagrams.length, `${label}: native counted every datagram`);
  assert.is(native.stats.malformedDatagrams, 0, `${label}: every real datagram parses natively`);
  assert.is(native.stats.handshakeSeen, 1);
  assert.ok(nativeStat(native, 'ackCount') > 0 && nativeStat(native, 'forwardDatagrams') > 0);
  assert.equal(
    native.events.map((e) => [e.type, e.reason]),
    [
      ['opened', null],
      ['closed', 'protocol_disconnect'],
    ],
    `${label}: opened by REQUEST_2, closed by the client's disconnect notification`,
  );
  if (clientGuid !== null)
    assert.ok(
      native.events.every((e) => e.key === clientGuid),
      `${label}: keyed by GUID`,
    );
  return native;
}

/** Every real sequence seen by the tests, kept as seeds for the mutated sequences. */
const realFlows: Datagram[][] = [];

test('capture: raknet-session.pcap agrees (the session and the server socket wake-ups)', async () => {
  const flows = await fixtureFlows('raknet', 'raknet-session.pcap');
  const sessions = flows.filter((flow) => flow.length > 10);
  assert.is(sessions.length, 1, 'one client-server session in the capture');
  const native = assertSession(sessions[0]!, null, 'capture');
  assert.ok(native.events[0]!.key !== null && /^\d+$/.test(native.events[0]!.key), 'GUID key');
  assert.is(native.stats.protocolVersion, 11);
  for (const flow of flows) {
    const { diff } = compare(flow);
    assert.equal(diff, [], diff.join('; '));
    realFlows.push(flow);
  }
});

test('live: raknet-native sessions (protocol 10 and 11) through a relay agree', async () => {
  const { runRakNetSession } =
    await importProtocolsTestModule<RakNetSessions>('raknet/raknet-session');
  for (const protocolVersion of [10, 11]) {
    const recording = await runRakNetSession({ relay: true, protocolVersion });
    const datagrams = [...recording.datagrams];
    const native = assertSession(
      datagrams,
      recording.clientGuid,
      `live protocol ${protocolVersion}`,
    );
    assert.is(native.stats.protocolVersion, protocolVersion);
    assert.ok(native.stats.rttMs !== null, 'connected ping/pong timed natively');
    realFlows.push(datagrams);
  }
});

test('a corrupted sequence changes both results, identically', () => {
  const original = realFlows.reduce((a, b) => (b.length > a.length ? b : a));
  const before = compare(original).native;
  // Drop the datagram carrying the disconnect notification's first copy and garble another.
  const corrupted = original
    .filter((_, i) => i !== original.length - 3)
    .map((d, i) => (i === 10 ? { ...d, data: d.data.subarray(0, 5) } : d));
  const after = compare(corrupted);
  assert.equal(after.diff, [], after.diff.join('; '));
  assert.not.equal(after.native.stats, before.stats);
  assert.ok(nativeStat(after.native, 'malformedDatagrams') >= 1);
});

test('100k mutated sequences of the real ones agree', () => {
  assert.ok(realFlows.length >= 3);
  let sequences = 0;
  let opened = 0;
  for (const fuzzed of fuzzedSequences(realFlows, 100_000, 0x72616b)) {
    // Every eighth sequence on a coarse clock: a ping and its pong at the same instant happen too.
    const sequence =
      sequences % 8 === 7 ? fuzzed.map((d) => ({ ...d, at: Math.floor(d.at / 50) * 50 })) : fuzzed;
    const { native, diff } = compare(sequence);
    if (diff.length > 0) assert.unreachable(`sequence ${sequences}: ${diff.join('; ')}`);
    if (native.events.length > 0) opened++;
    sequences++;
  }
  assert.is(sequences, 100_000);
  assert.ok(opened > 10_000, `native sessions opened in ${opened} sequences`);
});

test.run();
