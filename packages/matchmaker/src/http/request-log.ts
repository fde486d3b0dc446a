import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';

/**
 * fastify's two lines per request (received, completed) at `debug` instead
 * of `info`: at the default level they were four lines per ticket (create,
 * long-poll), more CPU than matching and allocating the ticket. At `debug`
 * and `trace` they are written as before; a request that ends in an error
 * still logs at `error`.
 */
export class DebugRequestLog extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(
    error: Error | null | undefined,
    _request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (error) {
      reply.log.error(
        { res: reply, err: error, responseTime: reply.elapsedTime },
        'request errored',
      );
      return;
    }
    reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
