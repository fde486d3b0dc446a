import { once } from 'node:events';
import {
  createClassifier,
  createFlow,
  createRegistry,
  type Datagram,
  type LifecycleEvent,
} from '@gamemesh/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NetcodeClient } from '../../src/netcode/client.js';
import { netcode } from '../../src/netcode/index.js';
import { openConnectionRequest } from '../../src/netcode/open-request.js';
import type { RecordingRelay } from '../support/relay.js';
import {
  recordSession,
  relayInFront,
  TEST_PRIVATE_KEY,
  TEST_PRIVATE_KEY_HEX,
  TEST_PROTOCOL_ID,
  testServer,
  testToken,
  until,
  withTimeout,
} from './helpers.js';

const WRONG_KEY = new Uint8Array(32).fill(7);

function feed(datagrams: readonly Datagram[], privateKey: string | null) {
  const registry = createRegistry({ protocols: [netcode.create({ privateKey })] });
  const flow = createFlow(createClassifier(registry), {
    onFault: (fault) => assert.unreachable(String(fault.error)),
  });
  const events: LifecycleEvent[] = [];
  for (const datagram of datagrams) events.push(...flow.observe(datagram));
  return { flow, events };
}

test('client and server connect directly, exchange payloads and disconnect', async () => {
  const server = testServer(2);
  let client: NetcodeClient | null = null;
  try {
    const bound = await server.start();
    const minted = testToken({
      clientId: 1234n,
      serverAddresses: [bound],
      expireSeconds: 30,
      timeoutSeconds: 5,
    });
    client = new NetcodeClient({ connectToken: minted.bytes });
    const connected = once(server, 'connect');
    await client.connect();
    const [info] = await withTimeout(connected, 3000, 'connect');
    assert.is(info.clientId, 1234n);
    await until(() => client!.state === 'connected');
    assert.is(client.clientIndex, info.clientIndex);
    assert.is(client.maxClients, 2);
    const got = once(server, 'payload');
    assert.ok(client.send(new Uint8Array([1, 2, 3])));
    const [, payload] = await withTimeout(got, 2000, 'payload');
    assert.equal([...payload], [1, 2, 3]);
    const back = once(client, 'payload');
    assert.ok(server.sendPayload(info.clientIndex, new Uint8Array([9])));
    assert.equal([...(await withTimeout(back, 2000, 'payload back'))[0]], [9]);
    // Keep-alives at 10 Hz keep the session up well past several send intervals.
    await new Promise((resolve) => setTimeout(resolve, 350));
    assert.is(client.state, 'connected');
    const gone = once(server, 'disconnect');
    await client.disconnect();
    assert.is((await withTimeout(gone, 2000, 'disconnect'))[1], 'client_disconnect');
    assert.is(server.connectedClients.length, 0);
  } finally {
    await client?.close();
    await server.close();
    await server.close();
  }
});

test('through the recording relay: classifier + tracker open with the tag and client id, close on disconnect', async () => {
  const session = await recordSession(3, 4242n);
  assert.equal(
    session.serverPayloads.map((p) => new TextDecoder().decode(p)),
    ['c2s 0', 'c2s 1', 'c2s 2'],
  );
  assert.equal(
    session.clientPayloads.map((p) => new TextDecoder().decode(p)),
    ['s2c 0', 's2c 1', 's2c 2'],
  );
  const request = session.datagrams[0]!;
  assert.is(request.direction, 'forward');
  assert.is(request.data.length, 1078);
  const tag = Buffer.from(session.minted.token.privateData.subarray(1008)).toString('hex');

  const keyed = feed(session.datagrams, TEST_PRIVATE_KEY_HEX);
  assert.is(keyed.flow.classification.state, 'matched');
  const opened = keyed.events.find((e) => e.type === 'opened');
  assert.ok(opened !== undefined && opened.type === 'opened');
  assert.is(opened.key, tag);
  assert.is(opened.detail?.clientId, '4242');
  assert.is(opened.detail?.tokenValid, true);
  assert.is(opened.detail?.version, '1.02');
  assert.is(opened.detail?.protocolId, TEST_PROTOCOL_ID.toString());
  assert.is(
    opened.detail?.serverAddresses,
    session.minted.token.serverAddresses.map((a) => `${a.parts.join('.')}:${a.port}`).join(','),
  );
  assert.ok(String(opened.detail?.userData).startsWith(Buffer.from('team=blue').toString('hex')));
  const closed = keyed.events.filter((e) => e.type === 'closed');
  assert.is(closed.length, 1, 'closed once although 10 disconnect packets were sent');
  assert.is(closed[0]!.type === 'closed' && closed[0]!.reason, 'protocol_disconnect');
  assert.is(keyed.flow.closed?.reason, 'protocol_disconnect');
  assert.is(keyed.flow.key(), tag);
  const stats = keyed.flow.stats()!;
  assert.is(stats.clientId, '4242');
  assert.is(stats.tokenValid, true);
  assert.is(stats.forwardPayload, 3);
  assert.is(stats.reversePayload, 3);
  assert.is(stats.reverseChallenge, 1);
  assert.is(stats.forwardDisconnect, 10);
  assert.is(stats.authFailures, 0);
  assert.is(stats.clientIndex, session.clientIndex);
  assert.is(stats.maxClients, 4);
  assert.is(stats.sequenceGapsForward, 0);
  assert.is(stats.sequenceGapsReverse, 0);
  assert.is(stats.lossRatio, 0);

  const keyless = feed(session.datagrams, null);
  assert.is(keyless.flow.opened?.key, tag);
  assert.is(keyless.flow.opened?.detail.clientId, undefined);
  assert.is(keyless.flow.closed?.reason, 'protocol_disconnect');
  assert.is(keyless.flow.stats()!.tokenValid, null);

  // A wrong key still recognises netcode but flags the token, and cannot authenticate packets.
  const wrong = feed(session.datagrams, '00'.repeat(32));
  assert.is(wrong.flow.opened?.detail.tokenValid, false);
  assert.is(wrong.flow.opened?.detail.tokenError, 'forged');
});

test('a spoofed disconnect does not close a keyed session', async () => {
  const session = await recordSession(1, 5n);
  const cut = session.datagrams.findIndex((d) => (d.data[0]! & 0x0f) === 6);
  const before = session.datagrams.slice(0, cut);
  const real = session.datagrams[cut]!;
  const spoofed = real.data.slice();
  spoofed[spoofed.length - 1] = spoofed[spoofed.length - 1]! ^ 0x55;
  const keyed = feed([...before, { ...real, data: spoofed }], TEST_PRIVATE_KEY_HEX);
  assert.is(keyed.flow.closed, null);
  assert.is(keyed.flow.stats()!.authFailures, 1);
  const keyless = feed([...before, { ...real, data: spoofed }], null);
  assert.is(
    keyless.flow.closed?.reason,
    'protocol_disconnect',
    'without keys only the prefix is visible',
  );
});

test('mid-session pickup: matched as encrypted after 4 consistent datagrams, closes on disconnect', async () => {
  const session = await recordSession(6, 9n);
  // Start after the handshake: the first forward payload onwards.
  const start = session.datagrams.findIndex(
    (d) => d.direction === 'forward' && (d.data[0]! & 0x0f) === 5,
  );
  const tail = session.datagrams.slice(start);
  const registry = createRegistry({ protocols: [netcode.create()] });
  const flow = createFlow(createClassifier(registry));
  const events: LifecycleEvent[] = [];
  let matchedAt = -1;
  tail.forEach((d, i) => {
    events.push(...flow.observe(d));
    if (matchedAt < 0 && flow.classification.state === 'matched') matchedAt = i;
  });
  assert.is(matchedAt, 3, 'needs 4 datagrams of evidence');
  const state = flow.classification;
  assert.ok(state.state === 'matched' && state.variant === 'encrypted');
  assert.is(flow.opened?.key, null);
  assert.is(flow.opened?.detail.pickedUp, true);
  assert.is(flow.closed?.reason, 'protocol_disconnect');
  assert.is(flow.stats()!.forwardPayload, 6);
});

test('forged token: the server never connects and openConnectionRequest says forged', async () => {
  const server = testServer(2);
  let client: NetcodeClient | null = null;
  let relay: RecordingRelay | null = null;
  try {
    relay = await relayInFront(server, await server.start());
    const minted = testToken({
      clientId: 1n,
      privateKey: WRONG_KEY,
      serverAddresses: [`127.0.0.1:${relay.port}`],
      expireSeconds: 30,
      timeoutSeconds: 1,
    });
    const ignored: string[] = [];
    server.on('ignored', (reason) => ignored.push(reason));
    let connects = 0;
    server.on('connect', () => connects++);
    client = new NetcodeClient({ connectToken: minted.bytes });
    await client.connect();
    await until(() => client!.state === 'request_timed_out', 3000, 'request timeout');
    assert.is(connects, 0);
    assert.ok(ignored.length >= 5, `requests resent at 10 Hz, got ${ignored.length}`);
    assert.ok(ignored.every((r) => r === 'forged'));
    assert.ok(
      relay.datagrams.every((d) => d.direction === 'forward'),
      'the server never answered',
    );
    const opened = openConnectionRequest(relay.datagrams[0]!.data, {
      privateKey: TEST_PRIVATE_KEY,
    });
    assert.equal(opened, { ok: false, code: 'forged' });
  } finally {
    await client?.close();
    await server.close();
    await relay?.close();
  }
});

test('expired token: openConnectionRequest says expired and the server ignores it', async () => {
  const server = testServer(2);
  let client: NetcodeClient | null = null;
  try {
    const bound = await server.start();
    const minted = testToken({
      clientId: 2n,
      serverAddresses: [bound],
      expireSeconds: 5,
      timeoutSeconds: 1,
      createTimestamp: Math.floor(Date.now() / 1000) - 3600,
    });
    const ignored: string[] = [];
    server.on('ignored', (reason) => ignored.push(reason));
    client = new NetcodeClient({ connectToken: minted.bytes });
    await client.connect();
    await until(() => ignored.length >= 2, 2000, 'ignored requests');
    assert.ok(ignored.every((r) => r === 'expired'));
    assert.is(server.connectedClients.length, 0);
  } finally {
    await client?.close();
    await server.close();
  }
});

test('server full: the second client is denied and the tracker closes with denied', async () => {
  const server = testServer(1);
  const clients: NetcodeClient[] = [];
  let relay: RecordingRelay | null = null;
  try {
    relay = await relayInFront(server, await server.start());
    for (const clientId of [10n, 11n]) {
      const minted = testToken({
        clientId,
        serverAddresses: [`127.0.0.1:${relay.port}`],
        expireSeconds: 30,
        timeoutSeconds: 5,
      });
      const client = new NetcodeClient({ connectToken: minted.bytes });
      clients.push(client);
      await client.connect();
      await until(
        () => client.state === 'connected' || client.state === 'denied',
        3000,
        `client ${clientId}`,
      );
    }
    assert.is(clients[0]!.state, 'connected');
    assert.is(clients[1]!.state, 'denied');
    const secondPort = clients[1]!.port!;
    const flowDatagrams = relay.byClient().get(secondPort)!;
    const denied = flowDatagrams.find((d) => d.direction === 'reverse')!;
    assert.is(denied.data[0], 0x81, 'denied with the 1 << 63 global sequence');
    assert.is(denied.data.length, 25);
    const { flow } = feed(flowDatagrams, TEST_PRIVATE_KEY_HEX);
    assert.is(flow.opened?.detail.clientId, '11');
    assert.is(flow.closed?.reason, 'denied');
  } finally {
    for (const client of clients) await client.close();
    await server.close();
    await relay?.close();
  }
});

test.run();
