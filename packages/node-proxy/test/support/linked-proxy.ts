import type { Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MatchmakerLink } from '../../src/link.js';
import { freeUdpPort, type LiveMatchmaker, MM_LINK_SECRET } from './matchmaker.js';
import { type StartedProxy, startProxy, waitFor } from './proxy.js';

/**
 * The proxy as a matchmaker-linked node: node-1 of cluster eu-1, one
 * key-mode listener `game` whose address is what players are sent to, and a
 * link that reconnects quickly, so a test can take the matchmaker away and
 * bring it back.
 */

/** One-player KCP matches keyed by the conversation id (the protocol key), matched every 20 ms. */
export const SOLO_KCP_MATCHMAKER = {
  link: { heartbeatTimeoutMs: 2000, ackTimeoutMs: 2000 },
  clusters: [{ name: 'eu-1', region: 'eu' }],
  pools: [
    {
      name: 'solo',
      teams: { count: 1, size: 1 },
      protocol: 'kcp',
      token: 'protocol-key',
      matchIntervalMs: 20,
      assignmentTtlSeconds: 60,
    },
  ],
};

/**
 * `pods:` config lines for KCP pods listening on `pods` (id → socket), one
 * slot each: the matchmaker's packing then puts each player on its own pod.
 */
export function soloKcpPods(pods: ReadonlyMap<string, Socket>): string[] {
  return [
    'pods:',
    ...[...pods].map(
      ([id, socket]) =>
        `  - { id: ${id}, address: "127.0.0.1:${socket.address().port}", protocol: kcp, capacity: 1 }`,
    ),
  ];
}

export interface LinkedProxyOptions {
  /** How the `game` listener routes: by protocol key (default) or by routing token. */
  readonly listenerMode?: 'key' | 'token';
  /** Top-level YAML lines besides the listener and the link: where pods come from (`pods:`, `podApi:`). */
  readonly config: readonly string[];
  /** More command-line flags, after `--config`. */
  readonly argv?: readonly string[];
}

export interface LinkedProxy extends StartedProxy {
  /** The `game` listener's port, the one the matchmaker hands to players. */
  readonly gamePort: number;
  readonly link: MatchmakerLink;
  /** Stops the proxy, then removes its config file (watched while it runs). */
  close(): Promise<void>;
}

/** Starts the proxy from a config file linked to `mm`; resolves once the link has registered. */
export async function startLinkedProxy(
  mm: LiveMatchmaker,
  options: LinkedProxyOptions,
): Promise<LinkedProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'gm-proxy-linked-'));
  let proxy: StartedProxy | null = null;
  try {
    const gamePort = await freeUdpPort();
    const file = join(dir, 'proxy.yaml');
    writeFileSync(
      file,
      [
        'listeners:',
        `  - { name: game, address: "127.0.0.1:${gamePort}", mode: ${options.listenerMode ?? 'key'}, allowLoopbackSources: true }`,
        ...options.config,
        'matchmaker:',
        `  url: ${mm.linkUrl}`,
        `  secret: ${MM_LINK_SECRET}`,
        '  nodeId: node-1',
        '  cluster: eu-1',
        '  region: eu',
        `  publicAddress: "127.0.0.1:${gamePort}"`,
        '  reconnectMs: 100',
      ].join('\n'),
    );
    proxy = await startProxy(['--config', file, ...(options.argv ?? [])]);
    const link = proxy.running.proxy.link;
    if (link === null) throw new Error('the proxy started without its matchmaker link');
    await waitFor('the link registers', () => link.connected, 5000);
    const started = proxy;
    return {
      ...started,
      gamePort,
      link,
      async close() {
        try {
          await started.running.close();
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    await proxy?.running.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
