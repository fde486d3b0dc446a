import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { binding } from '../ts/binding.js';
import { createDataPlane, NativeError, type NewFlow, type SessionEvent } from '../ts/index.js';
import { MAX_TOKEN_SUFFIX } from '../ts/options.js';
import { startKcpPair } from './dataplane/kcp-pair.js';
import {
  bindSocket,
  closeSocket,
  type Echo,
  sleep,
  startEcho,
  waitFor,
} from './dataplane/support.js';
import { startTokenAppender } from './dataplane/token-appender.js';

/**
 * Token listeners: every client datagram ends with a routing token. A new
 * flow's datagrams reach TS with it; once TS answers with the accepted token,
 * the data plane forwards only datagrams that end with exactly that token, and
 * forwards them without it. Real datagrams on loopback, a UDP echo as the pod,
 * and real node-kcp peers for the tracker.
 */

const SUFFIX = 28;
const host = '127.0.0.1';

function code(run: () => unknown): string | null {
  try {
    run();
    return null;
  } catch (error) {
    return error instanceof NativeError ? error.code : String(error);
  }
}

const withToken = (payload: Uint8Array, token: Uint8Array) =>
  Uint8Array.from(Buffer.concat([payload, token]));

test('the wrapper and the addon agree on the longest suffix; bad tokenSuffix values and answers are refused with codes', () => {
  assert.is(binding().constants.maxTokenSuffix, MAX_TOKEN_SUFFIX);
  const dp = createDataPlane({ maxSessions: 16 });
  try {
    for (const bad of [-1, 1.5, MAX_TOKEN_SUFFIX + 1, '28'])
      assert.is(
        code(() => dp.addListener({ address: host, mode: 'key', tokenSuffix: bad as number })),
        'GM_NATIVE_INVALID_ARGUMENT',
        `tokenSuffix ${String(bad)}`,
      );
    assert.is(
      code(() =>
        dp.addListener({
          address: host,
          mode: 'port',
          upstream: { address: host, port: 9 },
          protocol: 'kcp',
          tokenSuffix: SUFFIX,
        }),
      ),
      'GM_NATIVE_INVALID_ARGUMENT',
      'a fixed protocol never asks TS, so it could never accept a token',
    );
    const plain = dp.addListener({ address: host, mode: 'key' });
    const tokened = dp.addListener({ address: host, mode: 'key', tokenSuffix: SUFFIX });
    assert.is(plain.tokenSuffix, 0);
    assert.is(tokened.tokenSuffix, SUFFIX);
    assert.is(dp.counters().drop_token_missing, 0);
    assert.is(dp.counters().drop_token_mismatch, 0);
  } finally {
    dp.close();
  }
});

test('stripping: the pod gets exactly the payload, replies come back unchanged; mismatched and short datagrams are dropped and counted', async () => {
  const dp = createDataPlane({ maxSessions: 64, sweepIntervalMs: 20 });
  const echo: Echo = await startEcho();
  const client = await bindSocket('udp4', host);
  const other = await bindSocket('udp4', host);
  const replies: Buffer[] = [];
  client.on('message', (data) => replies.push(data));
  const flows: NewFlow[] = [];
  const opened: SessionEvent[] = [];
  try {
    const listener = dp.addListener({ address: host, mode: 'key', tokenSuffix: SUFFIX });
    dp.installRoute(listener.id, 'player-1', { address: host, port: echo.port });
    const token = new Uint8Array(randomBytes(SUFFIX));
    const forged = Uint8Array.from(token);
    forged[SUFFIX - 1]! ^= 1;
    dp.on('newFlow', (flow) => flows.push(flow));
    dp.on('opened', (event) => opened.push(event));
    const send = (socket: typeof client, bytes: Uint8Array) =>
      socket.send(bytes, listener.port, host);

    // Too short for a token: dropped before any flow exists, TS never hears of it.
    send(other, Uint8Array.of(1, 2, 3));
    await waitFor('short datagram counted', () => dp.counters().drop_token_missing === 1);
    assert.is(dp.counters().flows_created, 0);

    // A new flow: its first datagrams reach TS with the token still on; one carries another token.
    const first = new Uint8Array(randomBytes(40));
    const second = new Uint8Array(randomBytes(3));
    send(client, withToken(first, token));
    send(client, withToken(Uint8Array.of(9, 9), forged));
    send(client, withToken(second, token));
    await waitFor('three datagrams held for TS', () => flows[0]?.datagrams.length === 3);
    assert.is(flows.length, 1);
    assert.equal(flows[0]!.datagrams[0]!.data, withToken(first, token), 'TS sees the suffix');
    dp.answer(flows[0]!, { protocol: 'none', key: 'player-1', token });
    await waitFor('held datagrams forwarded', () => echo.received.length === 2);
    assert.equal(echo.received, [first, second], 'held datagrams lose the suffix');
    assert.is(dp.counters().drop_token_mismatch, 1, 'the held datagram with another token');
    await waitFor('echoes back', () => replies.length === 2);
    assert.equal(
      replies.map((r) => new Uint8Array(r)),
      [first, second],
      'pod to client is not changed',
    );
    assert.is(opened[0]?.key, 'player-1', "the session is known by the answer's key");

    // Established: the same token is stripped, another one (or none) is dropped.
    const third = new Uint8Array(randomBytes(1200));
    send(client, withToken(third, token));
    send(client, withToken(third, forged));
    send(client, third.subarray(0, SUFFIX - 1));
    const empty = token; // exactly the token: an empty game datagram
    send(client, empty);
    await waitFor('established datagrams', () => echo.received.length === 4);
    await waitFor('drops counted', () => dp.counters().drop_token_missing === 2);
    await sleep(50);
    assert.equal(echo.received.slice(2), [third, new Uint8Array(0)]);
    const c = dp.counters();
    assert.is(c.drop_token_mismatch, 2);
    assert.is(c.drop_token_missing, 2);
    assert.is(c.tx_upstream_packets, 4);
    assert.is(c.tx_upstream_bytes, first.length + second.length + third.length);
    assert.is(c.flows_created, 1);
    const snapshot = dp.session(opened[0]!.slot);
    assert.is(snapshot?.packets.forward, 4, 'the session counts forwarded datagrams');
    assert.is(snapshot?.bytes.forward, first.length + second.length + third.length);
    assert.ok(dp.memoryUsage().tokenBytes >= SUFFIX, 'a token flow used the token store');
  } finally {
    dp.close();
    for (const s of [client, other, echo.socket]) await closeSocket(s);
  }
});

test('answers on a token listener must carry the token; plain listeners take none and never touch the token store', async () => {
  const dp = createDataPlane({ maxSessions: 64 });
  const echo = await startEcho();
  const client = await bindSocket('udp4', host);
  const flows: NewFlow[] = [];
  try {
    const tokened = dp.addListener({ address: host, mode: 'key', tokenSuffix: SUFFIX });
    const plain = dp.addListener({ address: host, mode: 'key' });
    dp.on('newFlow', (flow) => flows.push(flow));
    const upstream = { address: host, port: echo.port };
    client.send(new Uint8Array(SUFFIX + 4), tokened.port, host);
    client.send(new Uint8Array(8), plain.port, host);
    await waitFor('two new flows', () => flows.length === 2);
    const onTokened = flows.find((f) => f.listener === tokened.id)!;
    const onPlain = flows.find((f) => f.listener === plain.id)!;
    for (const bad of [undefined, new Uint8Array(SUFFIX - 1)])
      assert.is(
        code(() =>
          dp.answer(onTokened, {
            protocol: 'none',
            upstream,
            ...(bad === undefined ? {} : { token: bad }),
          }),
        ),
        'GM_NATIVE_INVALID_ARGUMENT',
      );
    assert.is(
      code(() => dp.answer(onPlain, { protocol: 'none', upstream, token: new Uint8Array(SUFFIX) })),
      'GM_NATIVE_INVALID_ARGUMENT',
    );
    dp.answer(onPlain, { protocol: 'none', upstream });
    await waitFor('plain flow forwarded', () => echo.received.length === 1);
    assert.is(dp.memoryUsage().tokenBytes, 0, 'no token flow, no token memory');
    assert.is(dp.memoryUsage().flowEntryBytes, 256, 'the flow entry did not grow');
  } finally {
    dp.close();
    for (const s of [client, echo.socket]) await closeSocket(s);
  }
});

test('the tracker observes the stripped datagram: a real KCP conversation through a token-appending client relay', async () => {
  const dp = createDataPlane({ maxSessions: 64 });
  const pod = await bindSocket('udp4', host);
  const game = await bindSocket('udp4', host);
  const opened: SessionEvent[] = [];
  const conv = 0x5eed;
  const token = new Uint8Array(randomBytes(SUFFIX));
  const listener = dp.addListener({ address: host, mode: 'key', tokenSuffix: SUFFIX });
  const appender = await startTokenAppender({ address: host, port: listener.port }, token);
  const pair = startKcpPair(conv, game, { address: host, port: appender.port }, pod);
  try {
    dp.on('opened', (event) => opened.push(event));
    dp.on('newFlow', (flow) =>
      dp.answer(flow, {
        protocol: 'kcp',
        upstream: { address: host, port: pod.address().port },
        token: flow.datagrams[0]!.data.subarray(-SUFFIX),
      }),
    );
    const messages = Array.from({ length: 10 }, (_, i) => `kcp ${i} ${'z'.repeat(i * 50)}`);
    for (const m of messages) pair.send(m);
    await waitFor(
      'echoed through the token listener',
      () => pair.echoed.length === messages.length,
    );
    assert.equal(pair.echoed, messages);
    await waitFor('the KCP tracker opened the session', () => opened.length === 1);
    // Without a key in the answer the tracker's own key stands: it parsed the game's segments.
    assert.is(opened[0]?.protocol, 'kcp');
    assert.is(opened[0]?.key, String(conv));
    assert.is(dp.counters().drop_token_mismatch, 0);
    assert.ok(appender.relayed.forward > 0 && appender.relayed.reverse > 0);
  } finally {
    pair.stop();
    dp.close();
    await appender.close();
    for (const s of [pod, game]) await closeSocket(s);
  }
});

test.run();
