import { randomBytes } from 'node:crypto';
import {
  type ConfigProblem,
  formatConfigProblems,
  readConfigDocument,
  validateConfig,
} from '@gamemesh/core';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { POD_PROTOCOLS } from './domain/types.js';
import { parseRedisUrl } from './store/redis-url.js';

const Window = Type.Object(
  {
    attribute: Type.String({ minLength: 1 }),
    /** Half-width of the accepted range around the oldest ticket's value. */
    initial: Type.Number({ minimum: 0 }),
    widenPerSecond: Type.Number({ minimum: 0, default: 0 }),
    max: Type.Optional(Type.Number({ minimum: 0 })),
  },
  { additionalProperties: false },
);

export const PoolSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' }),
    teams: Type.Object(
      {
        count: Type.Integer({ minimum: 1, maximum: 64 }),
        size: Type.Integer({ minimum: 1, maximum: 1000 }),
      },
      { additionalProperties: false },
    ),
    minPlayers: Type.Optional(Type.Integer({ minimum: 1 })),
    maxPlayers: Type.Optional(Type.Integer({ minimum: 1 })),
    maxLatencyMs: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    latencyBucketMs: Type.Number({ exclusiveMinimum: 0, default: 25 }),
    windows: Type.Array(Window, { default: [] }),
    sameAttributes: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    ticketTtlSeconds: Type.Number({ exclusiveMinimum: 0, default: 60 }),
    matchIntervalMs: Type.Integer({ minimum: 5, default: 100 }),
    protocol: Type.Union(
      [Type.Literal('any'), ...POD_PROTOCOLS.map((name) => Type.Literal(name))],
      { default: 'any' },
    ),
    token: Type.Union(
      [Type.Literal('routing'), Type.Literal('netcode'), Type.Literal('protocol-key')],
      { default: 'routing' },
    ),
    assignmentTtlSeconds: Type.Integer({ minimum: 1, default: 30 }),
    backfill: Type.Boolean({ default: true }),
    /** Module path (absolute, or relative to the config file) exporting a match function. */
    matchFunction: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

const ClusterSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64 }),
    region: Type.String({ minLength: 1, maxLength: 64 }),
    priority: Type.Integer({ default: 0 }),
    weight: Type.Number({ exclusiveMinimum: 0, default: 1 }),
  },
  { additionalProperties: false },
);

const Hex32 = Type.String({ pattern: '^[0-9a-fA-F]{64}$' });

export const ConfigSchema = Type.Object(
  {
    listen: Type.String({ default: '127.0.0.1:8080' }),
    store: Type.String({ default: 'memory', pattern: '^(memory|rediss?://.+)$' }),
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info' },
    ),
    auth: Type.Object(
      {
        apiKeys: Type.Array(Type.String({ minLength: 16 }), { default: [] }),
        bearerSecret: Type.Optional(Type.String({ minLength: 16 })),
      },
      { additionalProperties: false, default: {} },
    ),
    link: Type.Object(
      {
        secret: Type.Optional(Type.String({ minLength: 16 })),
        heartbeatTimeoutMs: Type.Integer({ minimum: 100, default: 5000 }),
        ackTimeoutMs: Type.Integer({ minimum: 10, default: 2000 }),
        /** Allowed clock skew for the link's signed handshake. */
        maxSkewSeconds: Type.Integer({ minimum: 1, default: 60 }),
      },
      { additionalProperties: false, default: {} },
    ),
    tokens: Type.Object(
      {
        routingSecret: Type.Optional(Type.String({ minLength: 16 })),
        netcode: Type.Optional(
          Type.Object(
            {
              privateKey: Hex32,
              protocolId: Type.String({ pattern: '^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$' }),
              timeoutSeconds: Type.Integer({ default: 10 }),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    limits: Type.Object(
      {
        bodyBytes: Type.Integer({ minimum: 256, default: 16384 }),
        maxWaitSeconds: Type.Integer({ minimum: 1, default: 60 }),
        /** Unconfirmed reservations (no proxy acknowledgement) are released after this. */
        reservationTimeoutMs: Type.Integer({ minimum: 50, default: 5000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    clusters: Type.Array(ClusterSchema, { default: [] }),
    pools: Type.Array(PoolSchema, { default: [] }),
  },
  { additionalProperties: false },
);

export type PoolConfig = Static<typeof PoolSchema>;
export type MatchmakerConfig = Static<typeof ConfigSchema>;

/** A problem at a dotted path into the config, e.g. `pools[0].teams.size`. */
export type ConfigError = ConfigProblem;

export type ConfigResult =
  | { readonly ok: true; readonly config: MatchmakerConfig }
  | { readonly ok: false; readonly errors: readonly ConfigError[] };

/** Checks the relations JSON Schema cannot express. */
function crossCheck(config: MatchmakerConfig): ConfigError[] {
  const errors: ConfigError[] = [];
  const names = new Set<string>();
  config.pools.forEach((pool, i) => {
    const at = `pools[${i}]`;
    if (names.has(pool.name))
      errors.push({ path: `${at}.name`, problem: `duplicate pool "${pool.name}"` });
    names.add(pool.name);
    const full = pool.teams.count * pool.teams.size;
    if (pool.maxPlayers !== undefined && pool.maxPlayers > full)
      errors.push({
        path: `${at}.maxPlayers`,
        problem: `exceeds teams.count × teams.size (${full})`,
      });
    const max = pool.maxPlayers ?? full;
    if (pool.minPlayers !== undefined && pool.minPlayers > max)
      errors.push({ path: `${at}.minPlayers`, problem: `exceeds maxPlayers (${max})` });
    if (pool.token === 'netcode' && config.tokens.netcode === undefined)
      errors.push({ path: `${at}.token`, problem: 'netcode tokens need tokens.netcode' });
    if (pool.token === 'protocol-key' && pool.protocol !== 'kcp' && pool.protocol !== 'rtp')
      errors.push({ path: `${at}.token`, problem: 'protocol-key tokens need protocol kcp or rtp' });
  });
  const clusters = new Set<string>();
  config.clusters.forEach((cluster, i) => {
    if (clusters.has(cluster.name))
      errors.push({ path: `clusters[${i}].name`, problem: `duplicate cluster "${cluster.name}"` });
    clusters.add(cluster.name);
  });
  if (config.store !== 'memory') {
    const redis = parseRedisUrl(config.store);
    if (!redis.ok) errors.push({ path: 'store', problem: redis.problem });
  }
  if (!/^(\[[0-9a-fA-F:.]+\]|[^:]+):\d{1,5}$/.test(config.listen))
    errors.push({ path: 'listen', problem: 'expected HOST:PORT' });
  return errors;
}

/**
 * Validates a parsed config object, filling defaults. Every problem names its
 * path, so `gamemesh-matchmaker --config` can point at the offending line.
 */
export function parseConfig(raw: unknown): ConfigResult {
  const checked = validateConfig(Value, ConfigSchema, raw, crossCheck);
  if (!checked.ok) return checked;
  return { ok: true, config: withQuickStartDefaults(checked.value) };
}

/** One cluster and one pool so an empty config is a working matchmaker. */
function withQuickStartDefaults(config: MatchmakerConfig): MatchmakerConfig {
  const clusters =
    config.clusters.length > 0
      ? config.clusters
      : [{ name: 'local', region: 'local', priority: 0, weight: 1 }];
  const pools =
    config.pools.length > 0
      ? config.pools
      : [
          Value.Default(PoolSchema, {
            name: 'default',
            teams: { count: 2, size: 1 },
          }) as PoolConfig,
        ];
  return { ...config, clusters, pools };
}

export function loadConfigFile(path: string): ConfigResult {
  const read = readConfigDocument(path, parseYaml);
  return read.ok ? parseConfig(read.raw) : read;
}

export const formatConfigErrors = formatConfigProblems;

/** Secrets left unset get random values for this process only. */
export function randomSecret(): string {
  return randomBytes(24).toString('base64url');
}
