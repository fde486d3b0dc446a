import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetcodeClient, type NetcodeServer } from '@gamemesh/protocols/netcode';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type StartedProxy, startProxy, waitFor } from './support/proxy.js';
import { importSiblingTest } from './support/sibling-tests.js';

/**
 * gamemesh's netcode 1.02 client and server (checked byte for byte against
 * PROTOCOLS.md §3 in packages/protocols) through the proxy. The token lists
 * the proxy's address, and the server expects it there, as in a deployment
 * (PROTOCOLS.md §3.3). The proxy holds the private key, so it opens every
 * connection request itself and drops forged ones before the server.
 */

type NetcodeHelpers = typeof import('../../protocols/test/netcode/helpers.js');

interface SessionJson {
  key: string | null;
  state: string;
  reason: string | null;
  packets: { forward: number; reverse: number };
}

test('netcode: connect, payloads both ways, disconnect closes the session; a forged token is dropped at the proxy', async () => {
  const h = await importSiblingTest<NetcodeHelpers>('packages/protocols', 'netcode/helpers');
  const dir = mkdtempSync(join(tmpdir(), 'gm-proxy-netcode-'));
  const server: NetcodeServer = h.testServer(4);
  const clients: NetcodeClient[] = [];
  const ignored: string[] = [];
  const serverGot: string[] = [];
  let connects = 0;
  let proxy: StartedProxy | null = null;
  try {
    const bound = await server.start();
    server.on('ignored', (reason) => ignored.push(reason));
    server.on('connect', () => connects++);
    server.on('payload', (client, payload) => {
      serverGot.push(Buffer.from(payload).toString());
      server.sendPayload(client.clientIndex, payload);
    });
    const file = join(dir, 'proxy.yaml');
    writeFileSync(
      file,
      [
        'listeners:',
        `  - { name: game, address: "127.0.0.1:0", upstream: "${bound}", allowLoopbackSources: true }`,
        'unknownFlows: drop',
        'protocols:',
        `  netcode: { privateKey: "${h.TEST_PRIVATE_KEY_HEX}", protocolIds: ["${h.TEST_PROTOCOL_ID}"] }`,
      ].join('\n'),
    );
    proxy = await startProxy(['--config', file]);
    const running = proxy.running.proxy;
    const at = `127.0.0.1:${running.listenerPorts().game}`;
    server.setPublicAddress(at);
    const admin = `http://${proxy.running.admin}`;

    const good = h.testToken({
      clientId: 4242n,
      serverAddresses: [at],
      expireSeconds: 30,
      timeoutSeconds: 5,
    });
    const client = new NetcodeClient({ connectToken: good.bytes });
    clients.push(client);
    const echoed: string[] = [];
    client.on('payload', (p) => echoed.push(Buffer.from(p).toString()));
    await client.connect();
    await waitFor('client connected through the proxy', () => client.state === 'connected');
    const payloads = ['one', 'two', 'x'.repeat(1000)];
    for (const p of payloads) client.send(Buffer.from(p));
    await waitFor('payloads echoed', () => echoed.length >= payloads.length);
    assert.equal(serverGot, payloads);
    assert.equal(echoed, payloads);
    // The routing key is the sealed private token's AEAD tag: its last 16 bytes (PROTOCOLS.md §3.1).
    const sealed = good.token.privateData;
    const tag = Buffer.from(sealed.subarray(sealed.length - 16)).toString('hex');
    let listed = (await (await fetch(`${admin}/sessions?protocol=netcode`)).json()) as {
      sessions: SessionJson[];
    };
    assert.is(listed.sessions.length, 1);
    assert.is(listed.sessions[0]?.state, 'open');
    assert.ok(listed.sessions[0]!.packets.reverse > 0, 'server packets came back');

    await client.disconnect();
    await waitFor('session closed', () => running.sessions.activeCount === 0, 3000);
    listed = (await (await fetch(`${admin}/sessions?protocol=netcode&state=closed`)).json()) as {
      sessions: SessionJson[];
    };
    assert.is(listed.sessions[0]?.reason, 'protocol_disconnect');
    assert.is(listed.sessions[0]?.key, tag, 'keyed by the private token tag');

    // Same address and protocol id, but sealed with another key: only the key holder can tell.
    const forged = h.testToken({
      clientId: 666n,
      serverAddresses: [at],
      expireSeconds: 30,
      timeoutSeconds: 5,
      privateKey: new Uint8Array(randomBytes(32)),
    });
    const intruder = new NetcodeClient({ connectToken: forged.bytes });
    clients.push(intruder);
    await intruder.connect();
    await waitFor('forged request dropped', () => running.flowDrops.get('netcode_forged') === 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.is(intruder.state === 'connected', false);
    assert.equal(ignored, [], 'no forged request reached the server');
    assert.is(connects, 1);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    assert.match(metrics, /gamemesh_proxy_drops_total\{reason="netcode_forged"\} 1/);
    assert.match(
      metrics,
      /gamemesh_proxy_sessions_closed_total\{protocol="netcode",reason="protocol_disconnect"\} 1/,
    );
  } finally {
    for (const c of clients) await c.close();
    await proxy?.running.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
