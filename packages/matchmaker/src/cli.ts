import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import {
  formatConfigErrors,
  loadConfigFile,
  type MatchmakerConfig,
  parseConfig,
  randomSecret,
} from './config.js';
import { buildApp } from './http/app.js';
import { loadMatchFunctions } from './match-functions.js';
import { MemoryStore } from './store/memory.js';
import { RedisStore, StoreUnavailableError } from './store/redis.js';
import type { Store } from './store/store.js';

export const HELP = `gamemesh-matchmaker — tickets → matches → allocation across clusters → assignments

Usage: gamemesh-matchmaker [--listen HOST:PORT] [--config mm.yaml] [--store URL] [--log-level LEVEL]

With no arguments: serves on 127.0.0.1:8080 with the memory store, one
cluster "local" and a pool "default" (two teams of one).

Flags:
  --listen HOST:PORT   HTTP API, OpenAPI (/docs) and the proxy link (/v1/link);
                       default 127.0.0.1:8080 (overrides config "listen")
  --config FILE        YAML config (pools, clusters, auth, link, tokens, limits);
                       see docs/matchmaker.md. Errors name the path and the problem.
  --store URL          "memory" (default) or redis://[USER:PASS@]HOST:PORT/DB (overrides
                       config "store"); replicas on one Redis share tickets and fleet
  --log-level LEVEL    fatal|error|warn|info|debug|trace|silent (default info)
  --check              validate the config, print the effective config, exit
  -h, --help           this text

Environment (used when the config leaves them unset; otherwise random for this
process and printed once at startup):
  GAMEMESH_MM_API_KEY      an API key for the player-facing endpoints
  GAMEMESH_LINK_SECRET     shared secret node proxies sign the link handshake with
  GAMEMESH_ROUTING_SECRET  HMAC key of routing tokens (the node proxies verify them)
`;

export interface CliIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface RunningCli {
  readonly address: string;
  close(): Promise<void>;
}

/** Parses flags and config; returns an exit code, or a running server. */
export async function main(argv: readonly string[], io: CliIo): Promise<number | RunningCli> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        listen: { type: 'string' },
        config: { type: 'string' },
        store: { type: 'string' },
        'log-level': { type: 'string' },
        check: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    io.stderr.write(`gamemesh-matchmaker: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help === true) {
    io.stdout.write(HELP);
    return 0;
  }
  const configPath = typeof values.config === 'string' ? values.config : undefined;
  const loaded = configPath === undefined ? parseConfig({}) : loadConfigFile(configPath);
  if (!loaded.ok) {
    io.stderr.write(`${formatConfigErrors(loaded.errors)}\n`);
    return 2;
  }
  const overrides: Record<string, unknown> = { ...loaded.config };
  if (typeof values.listen === 'string') overrides.listen = values.listen;
  if (typeof values.store === 'string') overrides.store = values.store;
  if (typeof values['log-level'] === 'string') overrides.logLevel = values['log-level'];
  const checked = parseConfig(overrides);
  if (!checked.ok) {
    io.stderr.write(`${formatConfigErrors(checked.errors)}\n`);
    return 2;
  }
  const config: MatchmakerConfig = checked.config;
  const functions = await loadMatchFunctions(
    config,
    configPath === undefined ? process.cwd() : dirname(configPath),
  );
  if (!functions.ok) {
    io.stderr.write(`config: ${functions.path}: ${functions.problem}\n`);
    return 2;
  }
  if (values.check === true) {
    io.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
    return 0;
  }
  let store: Store;
  if (config.store === 'memory') store = new MemoryStore();
  else {
    try {
      store = await RedisStore.connect(config.store, {
        // Longer than any live allocation: claim, reservation, the proxy's ack.
        staleClaimMs: config.limits.reservationTimeoutMs + config.link.ackTimeoutMs + 5000,
      });
    } catch (error) {
      const detail = error instanceof StoreUnavailableError ? error.message : String(error);
      io.stderr.write(`gamemesh-matchmaker: GM_MM_STORE_UNAVAILABLE: ${detail}\n`);
      return 1;
    }
  }

  const generated: string[] = [];
  const secret = (configured: string | undefined, env: string, label: string): string => {
    const value = configured ?? io.env[env];
    if (value !== undefined && value.length > 0) return value;
    const random = randomSecret();
    generated.push(`${label} (${env}): ${random}`);
    return random;
  };
  const apiKeys =
    config.auth.apiKeys.length > 0 || config.auth.bearerSecret !== undefined
      ? config.auth.apiKeys
      : [secret(undefined, 'GAMEMESH_MM_API_KEY', 'api key')];
  const effective: MatchmakerConfig = { ...config, auth: { ...config.auth, apiKeys } };
  const link = secret(config.link.secret, 'GAMEMESH_LINK_SECRET', 'link secret');
  const routing = secret(config.tokens.routingSecret, 'GAMEMESH_ROUTING_SECRET', 'routing secret');

  const built = await buildApp({
    config: effective,
    store,
    secrets: { link, routing },
    matchFunctions: functions.functions,
    logger: { level: config.logLevel },
  });
  const separator = config.listen.lastIndexOf(':');
  const host = config.listen.slice(0, separator).replace(/^\[|\]$/g, '');
  const port = Number(config.listen.slice(separator + 1));
  try {
    await built.app.listen({ host, port });
  } catch (error) {
    io.stderr.write(
      `gamemesh-matchmaker: cannot listen on ${config.listen}: ${(error as Error).message}\n`,
    );
    await built.close();
    return 1;
  }
  built.matchmaker.start();
  const address = built.app.server.address();
  const bound =
    typeof address === 'object' && address !== null ? `${host}:${address.port}` : config.listen;
  io.stderr.write(
    `gamemesh-matchmaker listening on http://${bound} (docs: /docs, link: /v1/link)\n`,
  );
  for (const line of generated) io.stderr.write(`generated ${line}\n`);
  return { address: bound, close: () => built.close() };
}
