import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { formatHostPort } from './endpoint.js';
import { PROXY_ERRORS, type ProxyErrorCode } from './errors.js';
import {
  type PodHeartbeat,
  PodHeartbeatSchema,
  type PodRegistration,
  PodRegistrationSchema,
} from './pods.js';
import type { NodeProxy } from './proxy.js';

const ID_PARAMS = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
  required: ['id'],
} as const;

function fail(
  reply: FastifyReply,
  status: number,
  code: ProxyErrorCode,
  detail: string,
): FastifyReply {
  return reply.code(status).send({ error: { code, message: PROXY_ERRORS[code].message, detail } });
}

/**
 * The local pod API (default 127.0.0.1:9091): game servers on this node
 * register, heartbeat and deregister. Built apart from listen() so tests use
 * inject(). Bodies are validated against the TypeBox schemas of pods.ts;
 * every refusal is `{ error: { code, message, detail } }` with a GM_PROXY_* code.
 */
export function buildPodApp(proxy: NodeProxy): FastifyInstance {
  // Unknown keys and wrongly typed values are errors, not silently dropped or coerced.
  const app = Fastify({
    logger: false,
    bodyLimit: 16 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
  });
  app.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) => {
    const status = error.statusCode ?? 500;
    // Schema failures, malformed JSON and wrong content types are the caller's to fix.
    if (status >= 400 && status < 500)
      return fail(reply, status, 'GM_PROXY_POD_INVALID', error.message);
    return reply.code(500).send({ error: { code: 'GM_PROXY_INTERNAL', message: error.message } });
  });
  app.setNotFoundHandler((request, reply) =>
    fail(reply, 404, 'GM_PROXY_NOT_FOUND', `${request.method} ${request.url}`),
  );
  app.get('/v1/pods', async () => {
    const pods = proxy.pods().map((p) => ({
      id: p.id,
      source: p.source,
      address: formatHostPort(p.endpoint),
      protocol: p.protocol,
      capacity: p.capacity,
      freeSlots: p.reportedFreeSlots,
      labels: p.labels,
      state: p.drained ? 'drained' : 'active',
      lastHeartbeatAt: p.lastHeartbeatAt,
    }));
    return { count: pods.length, pods };
  });
  app.post<{ Body: PodRegistration }>(
    '/v1/pods',
    { schema: { body: PodRegistrationSchema } },
    async (request, reply) => {
      const result = proxy.registerPod(request.body);
      if (!result.ok)
        return fail(
          reply,
          result.code === 'GM_PROXY_POD_CONFLICT' ? 409 : 400,
          result.code,
          result.detail,
        );
      reply.code(result.replaced ? 200 : 201);
      return {
        id: result.id,
        heartbeatTimeoutMs: proxy.config.podApi.heartbeatTimeoutMs,
      };
    },
  );
  app.put<{ Params: { id: string }; Body: PodHeartbeat }>(
    '/v1/pods/:id/heartbeat',
    { schema: { params: ID_PARAMS, body: PodHeartbeatSchema } },
    async (request, reply) => {
      if (!proxy.podHeartbeat(request.params.id, request.body.freeSlots))
        return fail(
          reply,
          404,
          'GM_PROXY_POD_NOT_FOUND',
          `no registered pod "${request.params.id}"`,
        );
      return { id: request.params.id, state: 'active' };
    },
  );
  app.delete<{ Params: { id: string } }>(
    '/v1/pods/:id',
    { schema: { params: ID_PARAMS } },
    async (request, reply) => {
      if (!proxy.deregisterPod(request.params.id))
        return fail(
          reply,
          404,
          'GM_PROXY_POD_NOT_FOUND',
          `no registered pod "${request.params.id}"`,
        );
      return reply.code(204).send();
    },
  );
  return app;
}
