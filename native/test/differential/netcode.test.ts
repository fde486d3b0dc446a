import { once } from 'node:events';
import type { Datagram } from '@gamemesh/core';
import { netcode } from '@gamemesh/protocols';
import { generateConnectToken, NetcodeClient, NetcodeServer } from '@gamemesh/protocols/netcode';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fuzzedSequences } from './fuzz-sequences.js';
import { importProtocolsTestModule } from './protocols-test-modules.js';
import { compareTrackers, fixtureFlows, type NativeRun } from './support.js';

/**
 * netcode: the native keyless tracker (native/src/trackers/netcode.c) against
 * the TS tracker without a private key, on the committed capture, on live
 * sessions between the gamemesh netcode client and server, and on 100k
 * mutated sequences.
 */

type NetcodeHelpers = typeof import('../../../packages/protocols/test/netcode/helpers.js');
type RelaySupport = typeof import('../../../packages/protocols/test/support/relay.js');
const keyless = netcode.create({});

function compare(datagrams: readonly Datagram[]) {
  return compareTrackers(keyless.createTracker({ variant: '1.02' }), 'netcode', {}, datagrams);
}

/** Every datagram lands in exactly one native counter: a packet type or malformed. */
function countedDatagrams(native: NativeRun): number {
  let total = native.stats.malformed ?? 0;
  for (const name of native.statNames)
    if (/^(forward|reverse)[A-Z]/.test(name)) total += native.stats[name] ?? 0;
  return total;
}

function assertAgree(datagrams: readonly Datagram[], label: string): NativeRun {
  const { native, diff } = compare(datagrams);
  assert.equal(diff, [], `${label}: ${diff.join('; ')}`);
  assert.ok(native.events.length > 0, `${label}: native produced no events`);
  assert.is(countedDatagrams(native), datagrams.length, `${label}: native counted every datagram`);
  return native;
}

interface LiveSessions {
  readonly connected: Datagram[];
  readonly denied: Datagram[];
}

/**
 * One full session (the netcode tests' recordSession: connect, payloads,
 * client disconnect) and one client denied by a full server, both through
 * the protocols tests' recording relay.
 */
async function liveSessions(): Promise<LiveSessions> {
  const helpers = await importProtocolsTestModule<NetcodeHelpers>('netcode/helpers');
  const { startRecordingRelay } = await importProtocolsTestModule<RelaySupport>('support/relay');
  const connected = (await helpers.recordSession(5)).datagrams;
  const server = new NetcodeServer({
    privateKey: helpers.TEST_PRIVATE_KEY,
    protocolId: helpers.TEST_PROTOCOL_ID,
    maxClients: 1,
  });
  let relay: Awaited<ReturnType<typeof startRecordingRelay>> | null = null;
  const clients: NetcodeClient[] = [];
  try {
    const bound = await server.start();
    relay = await startRecordingRelay({ upstreamPort: Number(bound.split(':')[1]) });
    const address = `127.0.0.1:${relay.port}`;
    server.setPublicAddress(address);
    const token = (clientId: bigint): Uint8Array =>
      generateConnectToken({
        clientId,
        protocolId: helpers.TEST_PROTOCOL_ID,
        privateKey: helpers.TEST_PRIVATE_KEY,
        serverAddresses: [address],
        expireSeconds: 60,
        timeoutSeconds: 5,
        userData: new Uint8Array(0),
      }).bytes;
    const first = new NetcodeClient({ connectToken: token(1n) });
    clients.push(first);
    const joined = once(server, 'connect');
    await first.connect();
    await helpers.withTimeout(joined, 3000, 'first client connect');
    const second = new NetcodeClient({ connectToken: token(2n) });
    clients.push(second);
    await second.connect();
    await helpers.until(() => second.state === 'denied', 3000, 'second client denied');
    const flows = [...relay.byClient().values()];
    const denied = flows.find((flow) =>
      flow.some((d) => d.direction === 'reverse' && (d.data[0]! & 0x0f) === 1),
    );
    if (denied === undefined) throw new Error('no flow carried a denied packet');
    return { connected, denied };
  } finally {
    for (const client of clients) await client.close();
    await server.close();
    await relay?.close();
  }
}

let live: LiveSessions | null = null;

test.before(async () => {
  live = await liveSessions();
});

test('committed capture: identical events and stats', async () => {
  const flows = await fixtureFlows('netcode', 'netcode-session.pcap');
  assert.ok(flows.length >= 1);
  for (const [i, flow] of flows.entries()) {
    const native = assertAgree(flow, `capture flow ${i}`);
    assert.is(native.events[0]!.type, 'opened');
    assert.is(native.events.at(-1)!.reason, 'protocol_disconnect');
    assert.ok((native.stats.payloads ?? 0) >= 10);
  }
});

test('live session through the relay: opened with the token tag, closed by disconnect', () => {
  const datagrams = live!.connected;
  const native = assertAgree(datagrams, 'live session');
  assert.is(native.events.length, 2);
  assert.is(native.events[0]!.key?.length, 32);
  assert.is(native.events[1]!.reason, 'protocol_disconnect');
  assert.is(native.events[1]!.key, native.events[0]!.key);
});

test('live denied client: closed(denied)', () => {
  const native = assertAgree(live!.denied, 'denied session');
  assert.is(native.events.at(-1)!.reason, 'denied');
});

test('picked up mid-session: opened without a key; gaps when datagrams are lost', () => {
  const datagrams = live!.connected;
  const midway = datagrams.slice(Math.floor(datagrams.length / 3)).filter((_, i) => i % 4 !== 1);
  const native = assertAgree(midway, 'pickup with loss');
  assert.is(native.events[0]!.key, null);
  assert.ok((native.stats.sequenceGapsForward ?? 0) + (native.stats.sequenceGapsReverse ?? 0) > 0);
});

test('a corrupted sequence changes both trackers the same way', () => {
  const datagrams = live!.connected;
  const clean = compare(datagrams).native;
  // Truncate the request (no key, no opened-by-request) and break every other encrypted prefix.
  const corrupted = datagrams.map((d, i) => {
    if (i === 0) return { ...d, data: d.data.subarray(0, 100) };
    if (i % 2 === 0) return d;
    const data = d.data.slice();
    data[0] = (data[0]! & 0xf0) | 0x0e;
    return { ...d, data };
  });
  const { native, diff } = compare(corrupted);
  assert.equal(diff, []);
  assert.not.equal(native.stats, clean.stats);
  assert.ok((native.stats.malformed ?? 0) > datagrams.length / 3);
});

test('100k mutated sequences: the trackers agree on every one', async () => {
  const flows = await fixtureFlows('netcode', 'netcode-session.pcap');
  const real = [...flows, live!.connected, live!.denied];
  let checked = 0;
  for (const sequence of fuzzedSequences(real, 100_000, 0x6e63)) {
    const { diff } = compare(sequence);
    if (diff.length > 0)
      assert.unreachable(`sequence ${checked} (${sequence.length} datagrams): ${diff.join('; ')}`);
    checked++;
  }
  assert.is(checked, 100_000);
});

test.run();
