import {
  type ConfigProblem,
  dottedPath,
  formatConfigProblems,
  readConfigDocument,
  validateConfig,
} from '@gamemesh/core';
import { type BuiltinConfig, kcp, netcode, raknet, rtcp, rtp } from '@gamemesh/protocols';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { parseHostPort } from './endpoint.js';

const HostPortText = Type.String({ minLength: 3 });
/** Datagrams per direction the classifier looks at before `unknown` (createClassifier's default). */
const CLASSIFIER_WINDOW = 8;
/** The most `pendingWindow` @gamemesh/native accepts. */
const MAX_PENDING_WINDOW = 64;
const Budget = Type.Object(
  {
    burst: Type.Number({ minimum: 1, maximum: 1e6 }),
    perSecond: Type.Number({ minimum: 0, maximum: 1e9 }),
  },
  { additionalProperties: false },
);

export const ListenerSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 32, pattern: '^[a-z][a-z0-9_-]*$' }),
    /** `HOST:PORT` to bind (port 0 picks a free one). */
    address: HostPortText,
    /**
     * `port`: every flow goes to `upstream`; `key`: the protocol's routing key
     * selects the pod from routes; `token`: the signed routing token the
     * client appends to each datagram selects it (and is stripped).
     */
    mode: Type.Union([Type.Literal('port'), Type.Literal('key'), Type.Literal('token')], {
      default: 'port',
    }),
    upstream: Type.Optional(HostPortText),
    /** A public listener drops loopback, multicast and broadcast sources unless allowed below. */
    public: Type.Boolean({ default: true }),
    allowLoopbackSources: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

export const PodSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64 }),
    address: HostPortText,
    protocol: Type.Union(
      [
        Type.Literal('netcode'),
        Type.Literal('kcp'),
        Type.Literal('rtp'),
        Type.Literal('raknet'),
        Type.Literal('udp'),
      ],
      { default: 'udp' },
    ),
    capacity: Type.Integer({ minimum: 0, default: 16 }),
    labels: Type.Record(Type.String(), Type.String(), { default: {} }),
  },
  { additionalProperties: false },
);

const StaticRouteSchema = Type.Object(
  {
    /** Routing key as the protocol prints it: decimal ids, lowercase hex byte strings. */
    key: Type.String({ minLength: 1, maxLength: 128 }),
    pod: Type.String({ minLength: 1 }),
  },
  { additionalProperties: false },
);

export const MatchmakerLinkSchema = Type.Object(
  {
    /** The matchmaker's link endpoint, e.g. `ws://mm:8080/v1/link`. */
    url: Type.String({ pattern: '^wss?://' }),
    /** Shared with the matchmaker (`link.secret`): signs the link handshake. */
    secret: Type.String({ minLength: 16 }),
    /** Defaults to the host name. */
    nodeId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    cluster: Type.String({ minLength: 1 }),
    region: Type.String({ default: '' }),
    /** `ip:port` players reach this proxy on (netcode tokens list it). */
    publicAddress: HostPortText,
    reconnectMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 1000 }),
  },
  { additionalProperties: false },
);

export const ConfigSchema = Type.Object(
  {
    admin: Type.String({ default: '127.0.0.1:9090' }),
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info' },
    ),
    listeners: Type.Array(ListenerSchema, { default: [] }),
    /** Flows no protocol claims: forwarded untracked (`forward`) or dropped. */
    unknownFlows: Type.Union([Type.Literal('forward'), Type.Literal('drop')], {
      default: 'forward',
    }),
    pods: Type.Array(PodSchema, { default: [] }),
    /** The local pod API: game servers on the node register, heartbeat and deregister. */
    podApi: Type.Object(
      {
        /** Keep it on localhost: any process that reaches it can add upstreams. */
        address: Type.String({ default: '127.0.0.1:9091' }),
        /** A registered pod silent this long is drained (no new sessions). */
        heartbeatTimeoutMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 10_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    routes: Type.Array(StaticRouteSchema, { default: [] }),
    /** The link to the matchmaker: assignments become routes of key- and token-mode listeners. */
    matchmaker: Type.Optional(MatchmakerLinkSchema),
    /**
     * HMAC key of routing tokens, needed by token-mode listeners: the same
     * value as the matchmaker's `tokens.routingSecret` (GAMEMESH_ROUTING_SECRET).
     */
    routingTokenSecret: Type.Optional(Type.String({ minLength: 16 })),
    /** Per-protocol plugin config (validated by each plugin's own parser). */
    protocols: Type.Object(
      {
        netcode: Type.Optional(Type.Unknown()),
        raknet: Type.Optional(Type.Unknown()),
        kcp: Type.Optional(Type.Unknown()),
        rtp: Type.Optional(Type.Unknown()),
        rtcp: Type.Optional(Type.Unknown()),
      },
      { additionalProperties: false, default: {} },
    ),
    limits: Type.Object(
      {
        maxSessions: Type.Integer({ minimum: 1, maximum: 1 << 26, default: 65_536 }),
        sourceBudget: Type.Optional(Budget),
        newFlowBudget: Type.Optional(Budget),
      },
      { additionalProperties: false, default: {} },
    ),
    dataPlane: Type.Object(
      {
        threads: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
        idleTimeoutMs: Type.Integer({ minimum: 1, default: 30_000 }),
        pendingTimeoutMs: Type.Integer({ minimum: 1, default: 5000 }),
        sweepIntervalMs: Type.Integer({ minimum: 1, maximum: 60_000, default: 250 }),
        newFlowQueue: Type.Integer({ minimum: 1, default: 1024 }),
        /**
         * Datagrams of a new flow the data plane holds while TS classifies it;
         * later ones are dropped (`pending_window`). A video keyframe arrives
         * as a burst of tens of datagrams well inside the classification
         * round trip, so the default holds two 720p keyframes of 1200-byte
         * packets. At least the classifier's window (8): fewer, and a flow it
         * has not decided yet would wait out `pendingTimeoutMs`.
         */
        pendingWindow: Type.Integer({
          minimum: CLASSIFIER_WINDOW,
          maximum: MAX_PENDING_WINDOW,
          default: MAX_PENDING_WINDOW,
        }),
        /**
         * Equal-size runs to one destination leave as one UDP GSO send
         * (docs/native.md "Send path"). Off when a qdisc must see every
         * datagram: a GSO send crosses the qdiscs as one unit.
         */
        gso: Type.Boolean({ default: true }),
      },
      { additionalProperties: false, default: {} },
    ),
    drain: Type.Object(
      { deadlineSeconds: Type.Number({ minimum: 0, default: 30 }) },
      { additionalProperties: false, default: {} },
    ),
    sessions: Type.Object(
      { keepClosed: Type.Integer({ minimum: 0, maximum: 100_000, default: 1024 }) },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type ListenerConfig = Static<typeof ListenerSchema>;
export type PodConfig = Static<typeof PodSchema>;
export type ProxyConfig = Static<typeof ConfigSchema>;

/** A problem at a dotted path into the config, e.g. `listeners[0].upstream`. */
export type ConfigError = ConfigProblem;

export type ConfigResult =
  | { readonly ok: true; readonly config: ProxyConfig }
  | { readonly ok: false; readonly errors: readonly ConfigError[] };

const PLUGIN_PARSERS = { netcode, raknet, kcp, rtp, rtcp } as const;

/** Checks the relations JSON Schema cannot express. */
function crossCheck(config: ProxyConfig): ConfigError[] {
  const errors: ConfigError[] = [];
  const endpoint = (text: string, path: string, allowZero = false): void => {
    const parsed = parseHostPort(text, allowZero);
    if (typeof parsed === 'string') errors.push({ path, problem: parsed });
  };
  endpoint(config.admin, 'admin', true);
  endpoint(config.podApi.address, 'podApi.address', true);
  const names = new Set<string>();
  config.listeners.forEach((listener, i) => {
    const at = `listeners[${i}]`;
    if (names.has(listener.name))
      errors.push({ path: `${at}.name`, problem: `duplicate listener "${listener.name}"` });
    names.add(listener.name);
    endpoint(listener.address, `${at}.address`, true);
    if (listener.upstream !== undefined) endpoint(listener.upstream, `${at}.upstream`);
    if (listener.mode === 'port' && listener.upstream === undefined)
      errors.push({ path: `${at}.upstream`, problem: 'a port-mode listener needs an upstream' });
    if (listener.mode === 'token' && listener.upstream !== undefined)
      errors.push({
        path: `${at}.upstream`,
        problem: 'a token-mode listener routes by token: it has no upstream',
      });
    if (listener.mode === 'token' && config.routingTokenSecret === undefined)
      errors.push({
        path: 'routingTokenSecret',
        problem: `listener "${listener.name}" is in token mode: set the matchmaker's tokens.routingSecret here`,
      });
  });
  const pods = new Set<string>();
  config.pods.forEach((pod, i) => {
    if (pods.has(pod.id))
      errors.push({ path: `pods[${i}].id`, problem: `duplicate pod "${pod.id}"` });
    pods.add(pod.id);
    endpoint(pod.address, `pods[${i}].address`);
  });
  config.routes.forEach((route, i) => {
    if (!pods.has(route.pod))
      errors.push({ path: `routes[${i}].pod`, problem: `no pod "${route.pod}" in pods` });
  });
  if (config.matchmaker !== undefined)
    endpoint(config.matchmaker.publicAddress, 'matchmaker.publicAddress');
  // A pending flow's datagrams wait in its I/O thread's new-flow queue: one flow cannot hold more.
  if (config.dataPlane.pendingWindow > config.dataPlane.newFlowQueue)
    errors.push({
      path: 'dataPlane.pendingWindow',
      problem: `${config.dataPlane.pendingWindow} is more than dataPlane.newFlowQueue (${config.dataPlane.newFlowQueue}), which holds every pending flow's datagrams`,
    });
  for (const [name, factory] of Object.entries(PLUGIN_PARSERS)) {
    const raw = (config.protocols as Record<string, unknown>)[name];
    if (raw === undefined) continue;
    const parsed = factory.parse(raw);
    if (!parsed.ok)
      for (const issue of parsed.issues)
        errors.push({ path: dottedPath(issue.path, `protocols.${name}`), problem: issue.message });
  }
  return errors;
}

/**
 * Validates a parsed config object, filling defaults. Every problem names its
 * path, so `gamemesh-proxy --config` points at the offending key.
 */
export function parseConfig(raw: unknown): ConfigResult {
  const checked = validateConfig(Value, ConfigSchema, raw, crossCheck);
  if (!checked.ok) return checked;
  const config = checked.value;
  if (config.listeners.length === 0)
    return {
      ok: false,
      errors: [{ path: 'listeners', problem: 'at least one listener (or --listen and --to)' }],
    };
  return { ok: true, config };
}

/** Reads YAML; problems reading or parsing are reported on the `(file)` path. */
export function readConfigFile(path: string): ReturnType<typeof readConfigDocument> {
  return readConfigDocument(path, parseYaml);
}

export const formatConfigErrors = formatConfigProblems;

/** The plugin configs of a validated config, as each plugin's own parser typed them. */
export function builtinConfig(config: ProxyConfig): BuiltinConfig {
  const raw = config.protocols as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [name, factory] of Object.entries(PLUGIN_PARSERS)) {
    if (raw[name] === undefined) continue;
    const parsed = factory.parse(raw[name]);
    if (parsed.ok) out[name] = parsed.value.config;
  }
  return out as BuiltinConfig;
}
