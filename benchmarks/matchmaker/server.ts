/**
 * The matchmaker under test, in its own process: the real `buildApp` on
 * 127.0.0.1 with the benchmark's config, rounds running, plus two trivial
 * routes on the same fastify instance as the side-by-side baseline (the
 * bare cost of the two HTTP round trips a player makes: create, then wait).
 *
 *   node server.js --store memory | redis://127.0.0.1:PORT
 *
 * Prints one JSON line `{"event":"listening","port":N,"store":KIND}`; stops
 * cleanly on SIGTERM.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import {
  buildApp,
  type MatchmakerConfig,
  MemoryStore,
  RedisStore,
  type Store,
} from '@gamemesh/matchmaker';
import { benchConfig, LINK_SECRET, ROUTING_SECRET } from './setup.js';

async function openStore(url: string, config: MatchmakerConfig): Promise<Store> {
  if (url === 'memory') return new MemoryStore();
  // As gamemesh-matchmaker's CLI opens it: stale claims outlive any live allocation.
  return RedisStore.connect(url, {
    staleClaimMs: config.limits.reservationTimeoutMs + config.link.ackTimeoutMs + 5000,
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { store: { type: 'string', default: 'memory' } } });
  const storeUrl = values.store ?? 'memory';
  const config = benchConfig(storeUrl);
  const store = await openStore(storeUrl, config);
  const built = await buildApp({
    config,
    store,
    secrets: { link: LINK_SECRET, routing: ROUTING_SECRET },
    logger: false,
  });
  // Baseline: same server, same plugins and error handler, no auth, no matching.
  built.app.post('/bench/baseline/tickets', async (_request, reply) =>
    reply.code(201).send({ id: randomUUID(), state: 'queued' }),
  );
  built.app.get<{ Params: { id: string } }>(
    '/bench/baseline/tickets/:id/assignment',
    async (request) => ({ ticketId: request.params.id, state: 'assigned', assignment: null }),
  );
  await built.app.listen({ host: '127.0.0.1', port: 0 });
  built.matchmaker.start();
  const port = (built.app.server.address() as AddressInfo).port;
  process.stdout.write(`${JSON.stringify({ event: 'listening', port, store: store.kind })}\n`);

  let closing = false;
  const shutdown = (): void => {
    if (closing) return;
    closing = true;
    built
      .close()
      .catch(() => undefined)
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  process.stderr.write(`matchmaker server: ${String(error)}\n`);
  process.exit(1);
});
