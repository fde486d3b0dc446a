import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { MatchmakerConfig } from '../config.js';
import { Matchmaker } from '../domain/matchmaker.js';
import type { MatchFunction } from '../domain/rules.js';
import { errorBody, MM_ERRORS, type MmErrorCode } from '../errors.js';
import { LinkServer } from '../link/server.js';
import { MatchmakerMetrics } from '../metrics.js';
import { RedisStore, StoreUnavailableError } from '../store/redis.js';
import { RedisReplicaBus } from '../store/redis-bus.js';
import type { Store } from '../store/store.js';
import { createTokenIssuer } from '../tokens/issue.js';
import { createAuthenticator } from './auth.js';
import { DebugRequestLog } from './request-log.js';
import { ticketRoutes } from './tickets.js';

export interface BuildAppOptions {
  readonly config: MatchmakerConfig;
  readonly store: Store;
  /** Secrets resolved by the caller (config, environment, or random for a quick start). */
  readonly secrets: { readonly link: string; readonly routing: string };
  readonly matchFunctions?: ReadonlyMap<string, MatchFunction>;
  readonly logger?: boolean | { level: string };
  readonly clock?: () => number;
  readonly random?: () => number;
}

export interface MatchmakerApp {
  readonly app: FastifyInstance;
  readonly matchmaker: Matchmaker;
  readonly link: LinkServer;
  readonly metrics: MatchmakerMetrics;
  /** With the Redis store: wake-ups and assignments across replicas; null in memory. */
  readonly replicas: RedisReplicaBus | null;
  /** Stops rounds, the link and the HTTP server, then the store. */
  close(): Promise<void>;
}

function codeFor(error: FastifyError): MmErrorCode {
  if (error instanceof StoreUnavailableError) return 'GM_MM_STORE_UNAVAILABLE';
  if (error.validation !== undefined) return 'GM_MM_VALIDATION';
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'GM_MM_BODY_TOO_LARGE';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'GM_MM_UNSUPPORTED_MEDIA_TYPE';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return 'GM_MM_BAD_JSON';
  }
  // fastify's JSON parser reports a SyntaxError with status 400.
  if (error instanceof SyntaxError || (error.statusCode === 400 && /JSON/i.test(error.message)))
    return 'GM_MM_BAD_JSON';
  if (error.statusCode === 413) return 'GM_MM_BODY_TOO_LARGE';
  if (error.statusCode === 415) return 'GM_MM_UNSUPPORTED_MEDIA_TYPE';
  return 'GM_MM_INTERNAL';
}

/**
 * The matchmaker's HTTP app, not listening (tests use `inject()`; the CLI
 * calls `listen()`). The link server rides on the same HTTP server.
 */
export async function buildApp(options: BuildAppOptions): Promise<MatchmakerApp> {
  const { config, store } = options;
  const metrics = new MatchmakerMetrics();
  const matchmaker = new Matchmaker({
    config,
    store,
    metrics,
    tokens: createTokenIssuer(config, options.secrets.routing),
    ...(options.matchFunctions === undefined ? {} : { matchFunctions: options.matchFunctions }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.random === undefined ? {} : { random: options.random }),
  });
  const app = Fastify({
    logger: options.logger ?? false,
    logController: new DebugRequestLog(),
    bodyLimit: config.limits.bodyBytes,
    // Long-polls hold requests open up to maxWaitSeconds.
    requestTimeout: (config.limits.maxWaitSeconds + 30) * 1000,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });
  const link = new LinkServer({
    matchmaker,
    metrics,
    secret: options.secrets.link,
    heartbeatTimeoutMs: config.link.heartbeatTimeoutMs,
    ackTimeoutMs: config.link.ackTimeoutMs,
    maxSkewSeconds: config.link.maxSkewSeconds,
  });
  link.attach(app.server);
  const replicas =
    store instanceof RedisStore
      ? await RedisReplicaBus.start(store, matchmaker, link, config.link.ackTimeoutMs)
      : null;

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const code = codeFor(error);
    if (code === 'GM_MM_INTERNAL') request.log.error({ err: error }, 'unhandled error');
    return reply
      .code(MM_ERRORS[code].status)
      .send(errorBody(code, code === 'GM_MM_INTERNAL' ? undefined : error.message));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody('GM_MM_ROUTE_NOT_FOUND', `${request.method} ${request.url}`)),
  );

  await app.register(swagger, {
    openapi: {
      info: { title: 'gamemesh matchmaker', version: '0.1.0' },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(ticketRoutes, {
    matchmaker,
    authenticate: createAuthenticator({
      apiKeys: config.auth.apiKeys,
      bearerSecret: config.auth.bearerSecret,
    }),
    maxWaitSeconds: config.limits.maxWaitSeconds,
  });

  app.get('/livez', { schema: { hide: true } }, async () => ({ ok: true }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const ready = await store.ping().catch(() => false);
    return ready
      ? { ok: true, store: store.kind }
      : reply.code(503).send(errorBody('GM_MM_NOT_READY'));
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply
      .header('content-type', metrics.registry.contentType)
      .send(await metrics.registry.metrics()),
  );

  let closed = false;
  return {
    app,
    matchmaker,
    link,
    metrics,
    replicas,
    async close() {
      if (closed) return;
      closed = true;
      matchmaker.stop();
      await replicas?.close();
      await link.close();
      await app.close();
      await store.close();
    },
  };
}
