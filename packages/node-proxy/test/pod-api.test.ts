import { pino } from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../src/config.js';
import { buildPodApp } from '../src/pod-api.js';
import { NodeProxy } from '../src/proxy.js';
import { sleep, waitFor } from './support/proxy.js';

/**
 * The local pod API through fastify's inject(), over a real NodeProxy (real
 * data plane, key-mode listener): registration, heartbeats, deregistration,
 * every refusal code, and a pod drained when its heartbeats stop.
 */

interface InjectRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  payload?: object | string;
  headers?: Record<string, string>;
}

interface ErrorBody {
  error: { code: string; message: string; detail: string };
}

function makeProxy(heartbeatTimeoutMs = 10_000): NodeProxy {
  const parsed = parseConfig({
    listeners: [{ name: 'game', address: '127.0.0.1:0', mode: 'key' }],
    pods: [{ id: 'static-a', address: '127.0.0.1:40001', protocol: 'kcp', capacity: 4 }],
    routes: [{ key: '7', pod: 'static-a' }],
    podApi: { address: '127.0.0.1:0', heartbeatTimeoutMs },
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return new NodeProxy(parsed.config, pino({ level: 'silent' }));
}

const POD = {
  id: 'arena-1',
  address: '127.0.0.1',
  port: 40_100,
  protocol: 'kcp',
  capacity: 8,
  labels: { map: 'dust' },
};

test('register, list, heartbeat, deregister', async () => {
  const proxy = makeProxy();
  const app = buildPodApp(proxy);
  try {
    const created = await app.inject({ method: 'POST', url: '/v1/pods', payload: POD });
    assert.is(created.statusCode, 201);
    assert.equal(created.json(), { id: 'arena-1', heartbeatTimeoutMs: 10_000 });

    const anonymous = await app.inject({
      method: 'POST',
      url: '/v1/pods',
      payload: { address: '::1', port: 40_101, protocol: 'rtp', capacity: 2 },
    });
    assert.is(anonymous.statusCode, 201);
    const generated = (anonymous.json() as { id: string }).id;
    assert.match(generated, /^pod-[0-9a-f]{12}$/);

    const again = await app.inject({ method: 'POST', url: '/v1/pods', payload: POD });
    assert.is(again.statusCode, 200, 're-registering the same id replaces it');

    const beat = await app.inject({
      method: 'PUT',
      url: '/v1/pods/arena-1/heartbeat',
      payload: { freeSlots: 5 },
    });
    assert.is(beat.statusCode, 200);
    const listed = (await app.inject({ method: 'GET', url: '/v1/pods' })).json() as {
      pods: {
        id: string;
        source: string;
        address: string;
        freeSlots: number | null;
        state: string;
      }[];
    };
    assert.equal(
      listed.pods.map((p) => [p.id, p.source, p.address, p.freeSlots, p.state]),
      [
        ['static-a', 'static', '127.0.0.1:40001', null, 'active'],
        ['arena-1', 'registered', '127.0.0.1:40100', 5, 'active'],
        [generated, 'registered', '[::1]:40101', null, 'active'],
      ],
    );

    const gone = await app.inject({ method: 'DELETE', url: '/v1/pods/arena-1' });
    assert.is(gone.statusCode, 204);
    assert.equal(
      proxy.pods().map((p) => p.id),
      ['static-a', generated],
    );
    const late = await app.inject({
      method: 'PUT',
      url: '/v1/pods/arena-1/heartbeat',
      payload: { freeSlots: 1 },
    });
    assert.is(late.statusCode, 404);
    assert.is((late.json() as ErrorBody).error.code, 'GM_PROXY_POD_NOT_FOUND');
    const twice = await app.inject({ method: 'DELETE', url: '/v1/pods/arena-1' });
    assert.is((twice.json() as ErrorBody).error.code, 'GM_PROXY_POD_NOT_FOUND');
  } finally {
    await app.close();
    proxy.close();
  }
});

test('refusals carry stable GM_PROXY_* codes', async () => {
  const proxy = makeProxy();
  const app = buildPodApp(proxy);
  try {
    const expect = async (
      request: InjectRequest,
      status: number,
      code: string,
      detail?: RegExp,
    ) => {
      const res = await app.inject(request);
      assert.is(res.statusCode, status, JSON.stringify(request));
      const body = res.json() as ErrorBody;
      assert.is(body.error.code, code);
      if (detail !== undefined) assert.match(body.error.detail, detail);
    };
    const post = (payload: unknown) => ({
      method: 'POST' as const,
      url: '/v1/pods',
      payload: payload as object,
    });
    const { port: _port, ...noPort } = POD;
    await expect(post(noPort), 400, 'GM_PROXY_POD_INVALID', /port/);
    await expect(post({ ...POD, extra: 1 }), 400, 'GM_PROXY_POD_INVALID', /additional/);
    await expect(post({ ...POD, port: 70_000 }), 400, 'GM_PROXY_POD_INVALID', /port/);
    await expect(post({ ...POD, protocol: 'quic' }), 400, 'GM_PROXY_POD_INVALID', /protocol/);
    await expect(post({ ...POD, capacity: -1 }), 400, 'GM_PROXY_POD_INVALID', /capacity/);
    await expect(post({ ...POD, address: 'game.local' }), 400, 'GM_PROXY_POD_INVALID', /not an IP/);
    await expect(
      {
        method: 'POST',
        url: '/v1/pods',
        headers: { 'content-type': 'application/json' },
        payload: '{"address":',
      },
      400,
      'GM_PROXY_POD_INVALID',
    );
    await expect(post({ ...POD, id: 'static-a' }), 409, 'GM_PROXY_POD_CONFLICT', /static/);
    assert.is((await app.inject(post(POD))).statusCode, 201);
    await expect(post({ ...POD, id: 'arena-2' }), 409, 'GM_PROXY_POD_CONFLICT', /arena-1/);
    await expect(
      { method: 'PUT', url: '/v1/pods/arena-1/heartbeat', payload: { freeSlots: 'many' } },
      400,
      'GM_PROXY_POD_INVALID',
      /freeSlots/,
    );
    await expect({ method: 'GET', url: '/v1/nope' }, 404, 'GM_PROXY_NOT_FOUND');
    assert.equal(
      proxy.pods().map((p) => p.id),
      ['static-a', 'arena-1'],
      'refused requests changed nothing',
    );
  } finally {
    await app.close();
    proxy.close();
  }
});

test('missed heartbeats drain a pod, a heartbeat revives it', async () => {
  const proxy = makeProxy(200);
  const app = buildPodApp(proxy);
  try {
    assert.is(
      (await app.inject({ method: 'POST', url: '/v1/pods', payload: POD })).statusCode,
      201,
    );
    const beatFor = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        const res = await app.inject({
          method: 'PUT',
          url: '/v1/pods/arena-1/heartbeat',
          payload: { freeSlots: 3 },
        });
        assert.is(res.statusCode, 200);
        await sleep(50);
      }
    };
    await beatFor(500);
    assert.is(proxy.pods().find((p) => p.id === 'arena-1')?.drained, false, 'heartbeats keep it');
    await waitFor('drained after missed heartbeats', () =>
      proxy.pods().some((p) => p.id === 'arena-1' && p.drained),
    );
    const listed = (await app.inject({ method: 'GET', url: '/v1/pods' })).json() as {
      pods: { id: string; state: string }[];
    };
    assert.is(listed.pods.find((p) => p.id === 'arena-1')?.state, 'drained');
    await beatFor(60);
    assert.is(proxy.pods().find((p) => p.id === 'arena-1')?.drained, false, 'revived');
  } finally {
    await app.close();
    proxy.close();
  }
});

test.run();
