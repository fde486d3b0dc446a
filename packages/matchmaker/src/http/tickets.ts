import type { Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Matchmaker } from '../domain/matchmaker.js';
import { fingerprint, publicAssignment, publicTicket } from '../domain/tickets.js';
import { FINAL_STATES, type Ticket } from '../domain/types.js';
import { errorBody, MM_ERRORS, type MmErrorCode } from '../errors.js';
import type { Principal } from './auth.js';
import {
  AssignmentView,
  ErrorView,
  IdempotencyHeaders,
  TicketCreateBody,
  TicketParams,
  TicketView,
  WaitQuery,
} from './schemas.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export interface TicketRoutesOptions {
  readonly matchmaker: Matchmaker;
  readonly authenticate: (headers: FastifyRequest['headers']) => Principal | null;
  readonly maxWaitSeconds: number;
}

function sendError(reply: FastifyReply, code: MmErrorCode, detail?: string): FastifyReply {
  return reply.code(MM_ERRORS[code].status).send(errorBody(code, detail));
}

const isFinal = (ticket: Ticket): boolean => FINAL_STATES.has(ticket.state);

function ownerOf(principal: Principal | null): string | null {
  return principal?.kind === 'bearer' ? principal.subject : null;
}

const errors = { 400: ErrorView, 401: ErrorView, 403: ErrorView, 404: ErrorView };
const security = [{ apiKey: [] }, { bearer: [] }];

/** `/v1/tickets`: create, read, cancel, wait for the assignment (long-poll or SSE). */
export async function ticketRoutes(
  app: FastifyInstance,
  options: TicketRoutesOptions,
): Promise<void> {
  const mm = options.matchmaker;
  // Ticket bodies are JSON only: anything else is a 415, not a schema error.
  app.removeContentTypeParser('text/plain');
  app.decorateRequest('principal', null);
  // A callback hook, not an async one: no promise and no extra microtask per request.
  app.addHook('onRequest', (request, reply, done) => {
    const principal = options.authenticate(request.headers);
    if (principal === null) {
      sendError(reply, 'GM_MM_UNAUTHORIZED');
      return;
    }
    request.principal = principal;
    done();
  });

  app.post<{ Body: Static<typeof TicketCreateBody>; Headers: Static<typeof IdempotencyHeaders> }>(
    '/v1/tickets',
    {
      schema: {
        summary: 'Create a ticket (a player or a party) in a pool',
        headers: IdempotencyHeaders,
        body: TicketCreateBody,
        security,
        response: {
          201: TicketView,
          200: TicketView,
          409: ErrorView,
          413: ErrorView,
          422: ErrorView,
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key'];
      const owner = ownerOf(request.principal);
      const idempotency =
        key === undefined
          ? null
          : { key: `${owner ?? '*'}:${key}`, fingerprint: fingerprint(request.body) };
      const result = await mm.createTicket(request.body, owner, idempotency);
      if (!result.ok) return sendError(reply, result.code, result.detail);
      if (result.value.replayed) reply.header('idempotent-replayed', 'true');
      return reply
        .code(result.value.replayed ? 200 : 201)
        .header('location', `/v1/tickets/${result.value.ticket.id}`)
        .send(publicTicket(result.value.ticket));
    },
  );

  app.get<{ Params: Static<typeof TicketParams> }>(
    '/v1/tickets/:id',
    {
      schema: {
        summary: 'Read a ticket',
        params: TicketParams,
        security,
        response: { 200: TicketView, ...errors },
      },
    },
    async (request, reply) => {
      const result = await mm.getTicket(request.params.id, ownerOf(request.principal));
      if (!result.ok) return sendError(reply, result.code, result.detail);
      return publicTicket(result.value);
    },
  );

  app.delete<{ Params: Static<typeof TicketParams> }>(
    '/v1/tickets/:id',
    {
      schema: {
        summary: 'Cancel a queued or matching ticket',
        params: TicketParams,
        security,
        response: { 200: TicketView, 409: ErrorView, ...errors },
      },
    },
    async (request, reply) => {
      const result = await mm.cancelTicket(request.params.id, ownerOf(request.principal));
      if (!result.ok) return sendError(reply, result.code, result.detail);
      return publicTicket(result.value);
    },
  );

  app.get<{ Params: Static<typeof TicketParams>; Querystring: Static<typeof WaitQuery> }>(
    '/v1/tickets/:id/assignment',
    {
      schema: {
        summary: 'The assignment; with ?wait=SECONDS, waits for it (long-poll)',
        params: TicketParams,
        querystring: WaitQuery,
        security,
        response: { 200: AssignmentView, ...errors },
      },
    },
    async (request, reply) => {
      const owner = ownerOf(request.principal);
      const id = request.params.id;
      const waitMs = Math.min(request.query.wait ?? 0, options.maxWaitSeconds) * 1000;
      // Watch before reading, so a change between the read and the wait is not missed.
      const changed = waitMs > 0 ? mm.watchers.waitFor(id, isFinal, waitMs) : null;
      // A client that hangs up stops the wait ('close' also fires after a normal response).
      // `on`, not `once`: cancel is idempotent and 'close' fires once, so the
      // listener needs no removal (a once-wrapper's removal cost more than the wait).
      if (changed !== null) request.raw.on('close', changed.cancel);
      const found = await mm.getTicket(id, owner);
      if (!found.ok) {
        changed?.cancel();
        return sendError(reply, found.code, found.detail);
      }
      let ticket: Ticket = found.value;
      if (changed !== null && !isFinal(ticket)) ticket = (await changed.result) ?? ticket;
      else changed?.cancel();
      return { ticketId: ticket.id, state: ticket.state, assignment: publicAssignment(ticket) };
    },
  );

  app.get<{ Params: Static<typeof TicketParams> }>(
    '/v1/tickets/:id/events',
    {
      schema: {
        summary:
          'Server-sent events: one `ticket` event per state change; ends after a final state',
        params: TicketParams,
        security,
        response: { ...errors },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      const buffered: Ticket[] = [];
      let write: (ticket: Ticket) => void = (ticket) => buffered.push(ticket);
      const unwatch = mm.watchers.watch(id, (ticket) => write(ticket));
      const found = await mm.getTicket(id, ownerOf(request.principal));
      if (!found.ok) {
        unwatch();
        return sendError(reply, found.code, found.detail);
      }
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      let lastState = '';
      const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), 15000);
      const finish = (): void => {
        clearInterval(keepAlive);
        unwatch();
        raw.end();
      };
      write = (ticket) => {
        if (ticket.state === lastState) return;
        lastState = ticket.state;
        raw.write(
          `event: ticket\nid: ${ticket.updatedAt}\ndata: ${JSON.stringify(publicTicket(ticket))}\n\n`,
        );
        if (FINAL_STATES.has(ticket.state)) finish();
      };
      request.raw.on('close', () => {
        clearInterval(keepAlive);
        unwatch();
      });
      write(found.value);
      for (const ticket of buffered) if (!raw.writableEnded) write(ticket);
    },
  );
}
