import type { AddressInfo } from 'node:net';
import { buildApp, type MatchmakerApp, MemoryStore, parseConfig } from '@gamemesh/matchmaker';
import { bindUdp, closeUdp } from './proxy.js';

export const MM_API_KEY = 'proxy-test-api-key-0123456789';
export const MM_LINK_SECRET = 'proxy-test-link-secret-0123456789';
/** The matchmaker's `tokens.routingSecret`; a token-mode proxy needs it as its `routingTokenSecret`. */
export const MM_ROUTING_SECRET = 'proxy-test-routing-secret-0123';

/** A real matchmaker (HTTP API + link server) on loopback, matching rounds running. */
export interface LiveMatchmaker {
  readonly app: MatchmakerApp;
  readonly port: number;
  readonly url: string;
  readonly linkUrl: string;
}

/**
 * Starts a matchmaker on `port` (0 picks one) over `store`, so a test can
 * stop it and start another on the same address and state: a matchmaker
 * restart as the proxy sees it.
 */
export async function startMatchmaker(
  raw: Record<string, unknown>,
  store = new MemoryStore(),
  port = 0,
): Promise<LiveMatchmaker> {
  const parsed = parseConfig({ auth: { apiKeys: [MM_API_KEY] }, ...raw });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  const app = await buildApp({
    config: parsed.config,
    store,
    secrets: { link: MM_LINK_SECRET, routing: MM_ROUTING_SECRET },
  });
  try {
    await app.app.listen({ host: '127.0.0.1', port });
  } catch (error) {
    await app.close();
    throw error;
  }
  app.matchmaker.start();
  const bound = (app.app.server.address() as AddressInfo).port;
  return {
    app,
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    linkUrl: `ws://127.0.0.1:${bound}/v1/link`,
  };
}

export { MemoryStore };

export interface PlayerAssignment {
  readonly ticketId: string;
  readonly connection: string;
  readonly token: string;
}

/** A player's view: create a ticket over HTTP, long-poll its assignment. */
export async function requestMatch(mm: LiveMatchmaker, pool: string, player: string) {
  const created = await fetch(`${mm.url}/v1/tickets`, {
    method: 'POST',
    headers: { 'x-api-key': MM_API_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ pool, players: [{ id: player }] }),
  });
  if (created.status !== 201) throw new Error(`ticket: ${created.status} ${await created.text()}`);
  const { id } = (await created.json()) as { id: string };
  return {
    ticketId: id,
    async assignment(): Promise<PlayerAssignment> {
      const res = await fetch(`${mm.url}/v1/tickets/${id}/assignment?wait=5`, {
        headers: { 'x-api-key': MM_API_KEY },
      });
      const body = (await res.json()) as {
        state: string;
        assignment: { connection: string; token: string } | null;
      };
      if (body.assignment === null) throw new Error(`ticket ${id} ended ${body.state}`);
      return { ticketId: id, ...body.assignment };
    },
  };
}

/** A loopback UDP port that was free a moment ago (a listener address known before binding). */
export async function freeUdpPort(): Promise<number> {
  const socket = await bindUdp();
  const port = socket.address().port;
  await closeUdp(socket);
  return port;
}
