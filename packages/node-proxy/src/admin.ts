import Fastify, { type FastifyInstance } from 'fastify';
import { PROXY_ERRORS } from './errors.js';
import type { ProxyMetrics } from './metrics.js';
import type { NodeProxy } from './proxy.js';

export interface AdminOptions {
  readonly proxy: NodeProxy;
  readonly metrics: ProxyMetrics;
  /** The effective config shown at /config, secrets redacted. */
  readonly config: () => unknown;
}

const REDACTED = '(redacted)';

const SECRET_KEYS = new Set(['secret', 'privateKey', 'routingTokenSecret']);

/** The config without secrets (the netcode private key, the routing-token secret, any `secret`). */
export function redactConfig(config: unknown): unknown {
  return JSON.parse(JSON.stringify(config), (key: string, value: unknown) =>
    SECRET_KEYS.has(key) && typeof value === 'string' ? REDACTED : value,
  );
}

/** The admin API; built separately from listen() so tests use inject(). */
export function buildAdminApp(options: AdminOptions): FastifyInstance {
  const { proxy, metrics } = options;
  const app = Fastify({ logger: false });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      error: {
        code: 'GM_PROXY_NOT_FOUND',
        message: PROXY_ERRORS.GM_PROXY_NOT_FOUND.message,
        detail: `${request.method} ${request.url}`,
      },
    });
  });
  app.get('/livez', async () => ({ ok: true }));
  app.get('/readyz', async (_request, reply) => {
    const ready = !proxy.draining && !proxy.dp.closed;
    reply.code(ready ? 200 : 503);
    return { ready, draining: proxy.draining };
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  app.get<{ Querystring: { protocol?: string; state?: 'open' | 'closed' } }>(
    '/sessions',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            protocol: { type: 'string', maxLength: 32 },
            state: { type: 'string', enum: ['open', 'closed'] },
          },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const { protocol, state } = request.query;
      const sessions = proxy.sessions
        .list(proxy.dp, protocol)
        .filter((s) => state === undefined || s.state === state);
      return { count: sessions.length, sessions };
    },
  );
  app.get('/config', async () => redactConfig(options.config()));
  return app;
}
