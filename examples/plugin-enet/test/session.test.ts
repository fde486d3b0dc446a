import {
  createClassifier,
  createFlow,
  createRegistry,
  type Datagram,
  type Flow,
  type Protocol,
} from '@gamemesh/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import enet, { type EnetStats, parseDatagram } from '../src/index.js';
import { Command } from '../src/protocol.js';
import { type EnetSession, runEnetSession } from './support/enet-session.js';

// Real sessions between two libenet processes, recorded on loopback, run
// through the public gamemesh pipeline: registry -> classifier -> flow -> tracker.

const COUNT = 20;

function classify(protocol: Protocol, datagrams: readonly Datagram[]): Flow {
  const flow = createFlow(createClassifier(createRegistry({ protocols: [protocol] })), {
    onFault: (fault) => assert.unreachable(`plugin fault: ${String(fault.error)}`),
  });
  for (const datagram of datagrams) flow.observe(datagram);
  return flow;
}

function reported(report: ReadonlyMap<string, number>, key: string): number {
  const value = report.get(key);
  if (value === undefined) throw new Error(`enet-peer did not report ${key}`);
  return value;
}

function count(datagrams: readonly Datagram[], direction: Datagram['direction']): number {
  return datagrams.filter((d) => d.direction === direction).length;
}

/** True when the datagram carries a SEND_RELIABLE command (to pick one to lose). */
function carriesReliableData(datagram: Datagram): boolean {
  const parsed = parseDatagram(datagram.data, { checksum: false });
  return parsed.ok && parsed.commands.some((c) => c.number === Command.SEND_RELIABLE);
}

function resentByLibenet(session: EnetSession): number {
  return reported(session.client, 'resent_commands') + reported(session.server, 'resent_commands');
}

/** Copies of DISCONNECT beyond the first of each direction and sequence number. */
function resentDisconnects(datagrams: readonly Datagram[]): number {
  let copies = 0;
  const distinct = new Set<string>();
  for (const datagram of datagrams) {
    const parsed = parseDatagram(datagram.data, { checksum: false });
    if (!parsed.ok) continue;
    for (const command of parsed.commands) {
      if (command.number !== Command.DISCONNECT) continue;
      copies++;
      distinct.add(`${datagram.direction}/${command.reliableSequence}`);
    }
  }
  return copies - distinct.size;
}

/**
 * The tracker's retransmissions against libenet's own count (packetsLost).
 * libenet can resend DISCONNECT and zero that counter (enet_peer_reset on the
 * acknowledgement) inside one enet_host_service call, before the peer program
 * can read it; those resends are the only allowed difference.
 */
function assertRetransmissionsMatchLibenet(stats: EnetStats, session: EnetSession): void {
  const libenet = resentByLibenet(session);
  const slack = resentDisconnects(session.datagrams);
  assert.ok(
    stats.retransmissions >= libenet && stats.retransmissions <= libenet + slack,
    `tracker ${stats.retransmissions}, libenet ${libenet}, resent DISCONNECTs ${slack}`,
  );
}

let lossless: EnetSession;

test.before(async () => {
  lossless = await runEnetSession({ count: COUNT });
});

test('the relay saw every datagram libenet sent', () => {
  assert.is(count(lossless.datagrams, 'forward'), reported(lossless.client, 'sent_datagrams'));
  assert.is(count(lossless.datagrams, 'reverse'), reported(lossless.server, 'sent_datagrams'));
});

test('probe: the first datagram is a CONNECT; no real datagram is refused', () => {
  const protocol = enet.create();
  const [first] = lossless.datagrams;
  assert.equal(protocol.probe(first!, []), {
    verdict: 'match',
    variant: 'connect',
    reason: 'connect',
  });
  for (const datagram of lossless.datagrams) {
    assert.is.not(
      protocol.probe(datagram, []).verdict,
      'no',
      Buffer.from(datagram.data).toString('hex'),
    );
  }
});

test('tracker: opens with the connect ID libenet chose, closes on DISCONNECT', () => {
  const flow = classify(enet.create(), lossless.datagrams);
  const connectId = reported(lossless.client, 'connect_id');
  assert.is(reported(lossless.server, 'server_connect_id'), connectId);
  assert.ok(flow.classification.state === 'matched');
  assert.is(flow.classification.variant, 'connect');
  assert.is(flow.opened?.key, String(connectId));
  assert.equal(flow.opened?.detail, {
    connectID: connectId,
    mtu: reported(lossless.client, 'mtu'),
    channelCount: reported(lossless.client, 'channel_count'),
    outgoingPeerID: 0,
    openedBy: 'connect',
  });
  assert.is(flow.key(), String(connectId));
  assert.is(flow.closed?.reason, 'protocol_disconnect');
  assert.ok(flow.closed!.at >= flow.opened!.at);
  assert.is(enet.create().routingKey(lossless.datagrams[0]!), String(connectId));
});

test('tracker: counts are plausible and RTT is measured from sentTime echoes', () => {
  const stats = classify(enet.create(), lossless.datagrams).stats() as EnetStats;
  // Each side sends COUNT reliable packets plus a 3000-byte one split into
  // fragments (at least 3 at MTU 1400), and the handshake and goodbye.
  const minimumReliable = 2 * (COUNT + 3) + 3;
  assert.ok(stats.reliableCommands >= minimumReliable, `reliable ${stats.reliableCommands}`);
  assert.ok(stats.unreliableCommands >= COUNT, `unreliable ${stats.unreliableCommands}`);
  // Every reliable command is acknowledged once; the very last ones may be
  // acknowledged after the observer stops seeing the flow.
  assert.ok(
    stats.acks <= stats.reliableCommands && stats.acks >= stats.reliableCommands - 4,
    `acks ${stats.acks}`,
  );
  assert.is(stats.unparsed, 0);
  // Even on loopback ENet resends now and then (its timeout follows a ~1 ms
  // RTT while the peer acknowledges on its service tick): compare with libenet.
  assertRetransmissionsMatchLibenet(stats, lossless);
  assert.ok(stats.rttSamples > 0);
  assert.type(stats.rttMs, 'number');
  assert.ok(stats.rttMs! >= 0 && stats.rttMs! < 1000, `rtt ${stats.rttMs}`);
});

test('tracker: retransmissions equal what libenet resent after loss past the observer', async () => {
  const lost = { forward: 0, reverse: 0 };
  const session = await runEnetSession({
    count: COUNT,
    // Lose the first reliable data datagram of each direction after the relay recorded it.
    loseAfterSeen: (datagram) => {
      if (lost[datagram.direction] > 0 || !carriesReliableData(datagram)) return false;
      lost[datagram.direction]++;
      return true;
    },
  });
  assert.equal(lost, { forward: 1, reverse: 1 });
  const resent = resentByLibenet(session);
  assert.ok(resent >= 2, `libenet resent ${resent}`);
  const flow = classify(enet.create(), session.datagrams);
  assertRetransmissionsMatchLibenet(flow.stats() as EnetStats, session);
  assert.is(flow.closed?.reason, 'protocol_disconnect');
});

test('probe: a flow joined mid-session matches as `connected` after two datagrams', () => {
  const protocol = enet.create();
  // Skip the handshake: start where the client is already sending data.
  const start = lossless.datagrams.findIndex(
    (d) => d.direction === 'forward' && carriesReliableData(d),
  );
  const rest = lossless.datagrams.slice(start);
  const flow = classify(protocol, rest);
  assert.ok(flow.classification.state === 'matched');
  assert.is(flow.classification.variant, 'connected');
  assert.is(flow.classification.reason, 'consistent_walks');
  const [first] = rest;
  assert.is(protocol.probe(first!, []).reason, 'single_walk');
  assert.is(flow.closed?.reason, 'protocol_disconnect');
  const stats = flow.stats() as EnetStats;
  assert.is(stats.connectId, null);
  assert.ok(stats.reliableCommands > COUNT);
});

test('config `checksum`: a CRC32 session matches only when the option is on', async () => {
  const session = await runEnetSession({ count: 5, checksum: true });
  const [first] = session.datagrams;
  assert.is(enet.create().probe(first!, []).verdict, 'no');
  const protocol = enet.create({ checksum: true });
  assert.is(protocol.probe(first!, []).reason, 'connect');
  const flow = classify(protocol, session.datagrams);
  assert.is(flow.opened?.key, String(reported(session.client, 'connect_id')));
  assert.is(flow.closed?.reason, 'protocol_disconnect');
  assert.is((flow.stats() as EnetStats).unparsed, 0);
});

test('strict walk: trailing, missing and compressed bytes of a real datagram are refused by code', () => {
  const protocol = enet.create();
  const first = lossless.datagrams[0]!;
  const at = first.at;
  const variant = (data: Uint8Array) =>
    protocol.probe({ data, direction: 'forward', at }, []).reason;
  assert.is(variant(new Uint8Array([...first.data, 0])), 'truncated_command');
  assert.is(variant(first.data.subarray(0, first.data.length - 1)), 'truncated_command');
  const compressed = first.data.slice();
  compressed[0] = compressed[0]! | 0x40;
  assert.is(variant(compressed), 'compressed');
  const outOfRange = first.data.slice();
  outOfRange.set([0, 0, 0, 1], 4 + 8); // MTU 1, below ENET_PROTOCOL_MINIMUM_MTU
  assert.is(variant(outOfRange), 'bad_connect');
});

test.run();
