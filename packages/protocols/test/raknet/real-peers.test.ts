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
import {
  checkOfflineMessage,
  MESSAGE_ID,
  parseConnectedDatagram,
  rakNetRoutingKey,
  raknet,
  readConnectedMessage,
} from '../../src/raknet/index.js';
import { runRakNetSession, type SessionRecording } from './raknet-session.js';

/**
 * Real raknet-native client and server on loopback, talking through the
 * recording relay; the plugin sees exactly what a proxy would.
 */

const sessions = new Map<number, SessionRecording>();

test.before(async () => {
  for (const protocolVersion of [10, 11]) {
    sessions.set(protocolVersion, await runRakNetSession({ relay: true, protocolVersion }));
  }
});

function session(protocolVersion: number): SessionRecording {
  const recording = sessions.get(protocolVersion);
  if (recording === undefined) throw new Error(`no session for protocol ${protocolVersion}`);
  return recording;
}

function classify(datagrams: readonly Datagram[]): {
  flow: Flow;
  events: LifecycleEvent[];
  decidedAt: number;
} {
  const registry = createRegistry({ protocols: [raknet.create()] });
  const flow = createFlow(createClassifier(registry));
  const events: LifecycleEvent[] = [];
  let decidedAt = -1;
  datagrams.forEach((datagram, index) => {
    events.push(...flow.observe(datagram));
    if (decidedAt < 0 && flow.classification.state !== 'pending') decidedAt = index;
  });
  return { flow, events, decidedAt };
}

function isData(datagram: Datagram): boolean {
  const parsed = parseConnectedDatagram(datagram.data);
  return parsed.ok && parsed.datagram.kind === 'data';
}

/** Ids of RakNet messages that start a frame (unsplit or first fragment) in the datagram. */
function messageIds(datagram: Datagram): number[] {
  const parsed = parseConnectedDatagram(datagram.data);
  if (!parsed.ok || parsed.datagram.kind !== 'data') return [];
  return parsed.datagram.frames
    .filter((frame) => frame.split === null || frame.split.index === 0)
    .map((frame) => datagram.data[frame.payloadOffset]!);
}

test('the real peers completed the session', () => {
  for (const recording of sessions.values()) {
    assert.is(recording.receivedByServer, 8);
    assert.is(recording.receivedByClient, 8);
    assert.ok(recording.datagrams.length > 20);
    assert.match(recording.clientGuid, /^\d+$/);
  }
});

test('every real datagram parses, as offline or connected', () => {
  const seen = new Set<number>();
  for (const recording of sessions.values()) {
    for (const datagram of recording.datagrams) {
      const offline = checkOfflineMessage(datagram.data);
      if (offline === 'ok') continue;
      assert.is(offline, 'not_offline', `offline check of ${datagram.data[0]}`);
      const parsed = parseConnectedDatagram(datagram.data);
      assert.ok(parsed.ok, `connected datagram: ${parsed.ok ? '' : parsed.code}`);
      for (const id of messageIds(datagram)) seen.add(id);
    }
  }
  for (const id of [
    MESSAGE_ID.CONNECTION_REQUEST,
    MESSAGE_ID.CONNECTION_REQUEST_ACCEPTED,
    MESSAGE_ID.NEW_INCOMING_CONNECTION,
    MESSAGE_ID.CONNECTED_PING,
    MESSAGE_ID.CONNECTED_PONG,
    MESSAGE_ID.DISCONNECTION_NOTIFICATION,
    0x86,
  ]) {
    assert.ok(seen.has(id), `message 0x${id.toString(16)} seen inside frames`);
  }
});

test('classifier matches on the first datagram; tracker reports the GUIDs the peers report', () => {
  for (const [protocolVersion, recording] of sessions) {
    const { flow, events, decidedAt } = classify(recording.datagrams);
    assert.is(decidedAt, 0);
    assert.ok(flow.classification.state === 'matched' && flow.classification.variant === 'offline');
    assert.is(
      rakNetRoutingKey(recording.datagrams[0]!),
      recording.clientGuid,
      'ping carries the client GUID',
    );
    assert.equal(
      events.map((e) => e.type),
      ['opened', 'closed'],
    );
    assert.ok(flow.opened !== null && flow.closed !== null);
    assert.is(flow.opened.key, recording.clientGuid);
    assert.equal(flow.opened.detail, {
      clientGuid: recording.clientGuid,
      serverGuid: recording.serverGuid,
      // REQUEST_1 probed 1492 first (payload 1464 + 28); the server agreed to it.
      mtu: 1492,
      protocolVersion,
      hasSecurity: false,
      handshakeSeen: true,
    });
    assert.is(flow.closed.reason, 'protocol_disconnect');
    assert.is(flow.key(), recording.clientGuid);
    const stats = flow.stats()!;
    assert.is(stats.serverGuid, recording.serverGuid);
    assert.ok((stats.ackCount as number) > 0, 'ACKs counted');
    assert.ok((stats.ackDatagrams as number) > 0);
    assert.is(stats.nakCount, 0);
    assert.is(stats.lossRatio, 0);
    assert.is(stats.forwardSequenceGaps, 0);
    assert.is(stats.reverseSequenceGaps, 0);
    assert.is(stats.malformedDatagrams, 0);
    const dataForward = recording.datagrams.filter(
      (d) => d.direction === 'forward' && isData(d),
    ).length;
    assert.is(stats.forwardDatagrams, dataForward);
    const rtt = stats.rttMs;
    assert.ok(typeof rtt === 'number' && rtt >= 0 && rtt < 1000, `rttMs ${rtt}`);
    assert.ok(typeof stats.upstreamRttMs === 'number' && typeof stats.downstreamRttMs === 'number');
  }
});

test('mid-session pickup: data datagrams alone match after 3, then close on 0x15', () => {
  for (const recording of sessions.values()) {
    // Start after the connected handshake: at the first datagram carrying a user message.
    const start = recording.datagrams.findIndex((d) => messageIds(d).includes(0x86));
    assert.ok(start > 0);
    const tail = recording.datagrams.slice(start);
    const { flow, events, decidedAt } = classify(tail);
    assert.ok(
      flow.classification.state === 'matched' && flow.classification.variant === 'connected',
    );
    const dataBefore = tail.slice(0, decidedAt + 1).filter(isData).length;
    assert.is(dataBefore, 3, 'matched on the third data datagram');
    assert.ok(isData(tail[decidedAt]!));
    assert.equal(
      events.map((e) => e.type),
      ['opened', 'closed'],
    );
    assert.is(flow.opened!.detail.handshakeSeen, false);
    assert.is(flow.closed!.reason, 'protocol_disconnect');
    assert.is(flow.stats()!.forwardSequenceGaps, 0);
  }
});

test('connected ping/pong and disconnect are found inside frames', () => {
  const recording = session(11);
  const disconnects = recording.datagrams.filter((d) =>
    messageIds(d).includes(MESSAGE_ID.DISCONNECTION_NOTIFICATION),
  );
  assert.ok(disconnects.length >= 1);
  assert.ok(
    disconnects.every((d) => d.direction === 'forward'),
    'the client closed',
  );
  for (const datagram of recording.datagrams) {
    const parsed = parseConnectedDatagram(datagram.data);
    if (!parsed.ok || parsed.datagram.kind !== 'data') continue;
    for (const frame of parsed.datagram.frames) {
      const message = readConnectedMessage(datagram.data, frame.payloadOffset, frame.payloadLength);
      if (message?.name === 'connection-request')
        assert.is(message.clientGuid.toString(), recording.clientGuid);
    }
  }
});

test.run();
