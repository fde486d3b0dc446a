import { unwatchFile, watchFile } from 'node:fs';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { buildAdminApp } from './admin.js';
import {
  type ConfigError,
  formatConfigErrors,
  type ProxyConfig,
  parseConfig,
  readConfigFile,
} from './config.js';
import { formatHostPort, parseHostPort } from './endpoint.js';
import { PROXY_ERRORS, ProxyError } from './errors.js';
import { ProxyMetrics } from './metrics.js';
import { buildPodApp } from './pod-api.js';
import { NodeProxy } from './proxy.js';

export const HELP = `gamemesh-proxy — protocol-aware UDP proxy for game traffic (one per node)

Usage: gamemesh-proxy --listen HOST:PORT --to HOST:PORT [flags]
       gamemesh-proxy --config proxy.yaml [flags]

Quick start: gamemesh-proxy --listen 0.0.0.0:7777 --to 10.0.0.5:7777
forwards every flow on the listener to the pod, detecting RakNet, KCP,
netcode and RTP/RTCP sessions; the admin API is on 127.0.0.1:9090.

Flags:
  --listen HOST:PORT    UDP listener "default" (port mode); needs --to
  --to HOST:PORT        the pod the "default" listener forwards to
  --admin HOST:PORT     admin API: /livez /readyz /metrics /sessions /config
                        (default 127.0.0.1:9090; port 0 picks a free port)
  --pods HOST:PORT      pod API for game servers on this node: POST /v1/pods,
                        PUT /v1/pods/{id}/heartbeat, DELETE /v1/pods/{id}
                        (default 127.0.0.1:9091; port 0 picks a free port)
  --config FILE         YAML config (listeners, routing modes, pods, routes,
                        protocols, limits); see docs/proxy.md.
                        Errors name the path and the problem. Reloaded on
                        SIGHUP and when the file changes.
  --allow-loopback      accept flows from loopback sources on the --listen
                        listener (public listeners drop them by default)
  --unknown forward|drop  flows no protocol claims: forward untracked (default)
                        or drop
  --log-level LEVEL     fatal|error|warn|info|debug|trace|silent (default info)
  --check               validate the config, print the effective config, exit
  -h, --help            this text

Signals: SIGTERM/SIGINT drain (no new sessions; established ones run until
their protocol closes them or drain.deadlineSeconds), then exit. SIGHUP
reloads the config file without dropping established sessions.
Exit codes: 0 ok, 1 runtime failure (GM_PROXY_LISTEN, ...), 2 usage/config.
`;

export interface CliIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
}

export interface RunningProxy {
  readonly proxy: NodeProxy;
  /** `host:port` of the admin API as bound. */
  readonly admin: string;
  /** `host:port` of the pod API as bound. */
  readonly pods: string;
  /** Re-reads the config file; problems are logged and the running config is kept. */
  reload(): Promise<boolean>;
  /** Drains, then stops everything. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

interface Flags {
  listen?: string;
  to?: string;
  admin?: string;
  pods?: string;
  config?: string;
  'allow-loopback'?: boolean;
  unknown?: string;
  'log-level'?: string;
  check?: boolean;
  help?: boolean;
}

/** Config file (or {}) with the flags applied on top, validated as a whole. */
function effectiveConfig(
  flags: Flags,
): { ok: true; config: ProxyConfig } | { ok: false; errors: readonly ConfigError[] } {
  let raw: Record<string, unknown> = {};
  if (flags.config !== undefined) {
    const read = readConfigFile(flags.config);
    if (!read.ok) return read;
    if (typeof read.raw !== 'object' || read.raw === null || Array.isArray(read.raw))
      return { ok: false, errors: [{ path: '(root)', problem: 'expected a mapping' }] };
    raw = { ...(read.raw as Record<string, unknown>) };
  }
  if (flags.listen !== undefined || flags.to !== undefined) {
    if (flags.listen === undefined || flags.to === undefined)
      return {
        ok: false,
        errors: [{ path: '--listen/--to', problem: 'give both --listen and --to' }],
      };
    const others = Array.isArray(raw.listeners) ? (raw.listeners as { name?: unknown }[]) : [];
    raw.listeners = [
      ...others.filter((l) => l?.name !== 'default'),
      {
        name: 'default',
        address: flags.listen,
        mode: 'port',
        upstream: flags.to,
        allowLoopbackSources: flags['allow-loopback'] === true,
      },
    ];
  }
  if (flags.admin !== undefined) raw.admin = flags.admin;
  if (flags.pods !== undefined)
    raw.podApi = {
      ...(typeof raw.podApi === 'object' && raw.podApi !== null ? raw.podApi : {}),
      address: flags.pods,
    };
  if (flags.unknown !== undefined) raw.unknownFlows = flags.unknown;
  if (flags['log-level'] !== undefined) raw.logLevel = flags['log-level'];
  return parseConfig(raw);
}

/** Parses flags and config; returns an exit code, or the running proxy. */
export async function main(argv: readonly string[], io: CliIo): Promise<number | RunningProxy> {
  let flags: Flags;
  try {
    flags = parseArgs({
      args: [...argv],
      options: {
        listen: { type: 'string' },
        to: { type: 'string' },
        admin: { type: 'string' },
        pods: { type: 'string' },
        config: { type: 'string' },
        'allow-loopback': { type: 'boolean' },
        unknown: { type: 'string' },
        'log-level': { type: 'string' },
        check: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values as Flags;
  } catch (error) {
    io.stderr.write(`gamemesh-proxy: GM_PROXY_USAGE: ${(error as Error).message}\n\n${HELP}`);
    return PROXY_ERRORS.GM_PROXY_USAGE.exit;
  }
  if (flags.help === true) {
    io.stdout.write(HELP);
    return 0;
  }
  const loaded = effectiveConfig(flags);
  if (!loaded.ok) {
    const code = loaded.errors.some((e) => e.path === '(file)')
      ? 'GM_PROXY_CONFIG_READ'
      : 'GM_PROXY_CONFIG';
    io.stderr.write(`gamemesh-proxy: ${code}\n${formatConfigErrors(loaded.errors)}\n`);
    return PROXY_ERRORS[code].exit;
  }
  if (flags.check === true) {
    io.stdout.write(`${JSON.stringify(loaded.config, null, 2)}\n`);
    return 0;
  }
  const logger = pino(
    { level: loaded.config.logLevel, base: { service: 'gamemesh-proxy' } },
    io.stdout,
  );
  let proxy: NodeProxy;
  try {
    proxy = new NodeProxy(loaded.config, logger);
  } catch (error) {
    if (!(error instanceof ProxyError)) throw error;
    io.stderr.write(`gamemesh-proxy: ${error.message}\n`);
    return PROXY_ERRORS[error.code].exit;
  }
  const metrics = new ProxyMetrics(proxy);
  const app = buildAdminApp({ proxy, metrics, config: () => proxy.config });
  const adminAt = parseHostPort(loaded.config.admin, true);
  let admin = loaded.config.admin;
  try {
    if (typeof adminAt === 'string') throw new Error(adminAt);
    await app.listen({ host: adminAt.address, port: adminAt.port });
    const bound = app.server.address();
    if (typeof bound === 'object' && bound !== null)
      admin = formatHostPort({ address: adminAt.address, port: bound.port });
  } catch (error) {
    proxy.close();
    await app.close();
    io.stderr.write(
      `gamemesh-proxy: GM_PROXY_ADMIN_LISTEN: ${loaded.config.admin}: ${(error as Error).message}\n`,
    );
    return PROXY_ERRORS.GM_PROXY_ADMIN_LISTEN.exit;
  }
  const podApp = buildPodApp(proxy);
  const podsAt = parseHostPort(loaded.config.podApi.address, true);
  let pods = loaded.config.podApi.address;
  try {
    if (typeof podsAt === 'string') throw new Error(podsAt);
    await podApp.listen({ host: podsAt.address, port: podsAt.port });
    const bound = podApp.server.address();
    if (typeof bound === 'object' && bound !== null)
      pods = formatHostPort({ address: podsAt.address, port: bound.port });
  } catch (error) {
    proxy.close();
    await app.close();
    await podApp.close();
    io.stderr.write(
      `gamemesh-proxy: GM_PROXY_PODS_LISTEN: ${loaded.config.podApi.address}: ${(error as Error).message}\n`,
    );
    return PROXY_ERRORS.GM_PROXY_PODS_LISTEN.exit;
  }
  logger.info(
    { event: 'started', listeners: proxy.listenerPorts(), admin, pods },
    'gamemesh-proxy started',
  );

  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    if (flags.config !== undefined) unwatchFile(flags.config);
    proxy.close();
    await app.close();
    await podApp.close();
    logger.flush();
  };
  const reload = async (): Promise<boolean> => {
    const next = effectiveConfig(flags);
    if (!next.ok) {
      logger.error(
        { event: 'reload_failed', code: 'GM_PROXY_CONFIG', errors: next.errors },
        'reload: config invalid; keeping the running config',
      );
      return false;
    }
    const applied = proxy.reload(next.config);
    if (!applied.ok) {
      logger.error(
        { event: 'reload_failed', code: 'GM_PROXY_RELOAD_REJECTED', problems: applied.problems },
        'reload rejected; keeping the running config',
      );
      return false;
    }
    logger.info({ event: 'reloaded' }, 'config reloaded');
    return true;
  };
  if (flags.config !== undefined)
    watchFile(flags.config, { interval: 500 }, (now, before) => {
      if (now.mtimeMs !== before.mtimeMs) void reload();
    });
  return {
    proxy,
    admin,
    pods,
    reload,
    drain: async () => {
      await proxy.drain();
      await close();
    },
    close,
  };
}
