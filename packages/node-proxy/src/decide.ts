import {
  type Classifier,
  createClassifier,
  createRegistry,
  type Datagram,
  type FlowClassifier,
  type Protocol,
  ROUTING_TOKEN_BYTES,
  ROUTING_TOKEN_CODES,
  verifyRoutingToken,
} from '@gamemesh/core';
import type { FlowAnswer, TrackerOptions } from '@gamemesh/native';
import { type BuiltinConfig, builtinProtocols, type KcpConfig } from '@gamemesh/protocols';
import { OPEN_REQUEST_CODES, openConnectionRequest } from '@gamemesh/protocols/netcode';
import type { HostPort } from './endpoint.js';
import { refusedSource } from './source-address.js';

/**
 * Drops decided in TS, per new flow (the data plane counts its own drops).
 * The codes are metric labels: a fixed table, documented in docs/proxy.md.
 */
export const FLOW_DROP_REASONS = {
  source_loopback: 'a public listener got a flow from a loopback source',
  source_multicast: 'a public listener got a flow from a multicast source',
  source_broadcast: 'a public listener got a flow from the broadcast address',
  source_unspecified: 'a public listener got a flow from 0.0.0.0 or ::',
  draining: 'the proxy is draining: no new sessions',
  unknown_protocol: 'no protocol claimed the flow and unknownFlows is drop',
  no_key: 'a key-mode listener got a flow without a routing key',
  ...(Object.fromEntries(
    Object.entries(ROUTING_TOKEN_CODES).map(([code, text]) => [`token_${code}`, text]),
  ) as { [K in keyof typeof ROUTING_TOKEN_CODES as `token_${K}`]: string }),
  ...(Object.fromEntries(
    Object.entries(OPEN_REQUEST_CODES).map(([code, text]) => [`netcode_${code}`, text]),
  ) as { [K in keyof typeof OPEN_REQUEST_CODES as `netcode_${K}`]: string }),
} as const;

export type FlowDropReason = keyof typeof FLOW_DROP_REASONS;

/** How one listener treats new flows. */
export interface ListenerPolicy {
  readonly name: string;
  readonly mode: 'port' | 'key' | 'token';
  readonly upstream: HostPort | null;
  readonly public: boolean;
  readonly allowLoopbackSources: boolean;
}

export interface DeciderOptions {
  readonly protocols: BuiltinConfig;
  readonly unknownFlows: 'forward' | 'drop';
  /** HMAC key of routing tokens (token-mode listeners); null without one. */
  readonly routingTokenSecret: string | null;
}

/** The verified routing token of a token-mode flow: its datagrams end with `bytes`. */
export interface AcceptedToken {
  /** The token id in lowercase hex: the routing key. */
  readonly key: string;
  readonly bytes: Uint8Array;
}

/** What was decided for a flow, for the answer and for metrics. */
export interface DropDecision {
  readonly kind: 'drop';
  readonly reason: FlowDropReason;
  readonly protocol: string;
}

export type Decision =
  | { readonly kind: 'pending' }
  | DropDecision
  | {
      readonly kind: 'answer';
      readonly answer: FlowAnswer;
      /** `matched` by a protocol, or `unknown` forwarded untracked. */
      readonly outcome: 'matched' | 'unknown';
      readonly protocol: string;
      readonly key: string | null;
    };

const PENDING: Decision = Object.freeze({ kind: 'pending' });

/** gm_kcp_variant in native/src/trackers/kcp.h; other strings mean auto-detection (0). */
const KCP_NATIVE_VARIANT: Readonly<Record<string, number>> = {
  raw: 1,
  fec: 2,
  'crypt-none': 3,
  kcp2k: 4,
};
const KCP_NO_FEC = 0x10;
const KCP_NO_CRYPT_NONE = 0x20;
const KCP_NO_KCP2K = 0x40;

/** A token-mode datagram without its token, or null when it does not end with the accepted one. */
export function withoutToken(token: AcceptedToken, datagram: Datagram): Datagram | null {
  const { data } = datagram;
  const at = data.length - token.bytes.length;
  if (at < 0) return null;
  for (let i = 0; i < token.bytes.length; i++) if (data[at + i] !== token.bytes[i]) return null;
  return { ...datagram, data: data.subarray(0, at) };
}

function hexBytes(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

/**
 * Classifies new flows with the built-in protocols (the same classifier
 * `gamemesh-inspect` uses) and turns the outcome into a data plane answer:
 * the native tracker's id and config, and the upstream or routing key.
 */
export class FlowDecider {
  private readonly classifier: Classifier;
  private readonly byName: ReadonlyMap<string, Protocol>;
  private readonly netcodeKey: Uint8Array | null;
  private readonly netcodeProtocolIds: readonly bigint[] | undefined;
  private readonly clockRates: Readonly<Record<string, number>>;
  draining = false;

  constructor(private readonly options: DeciderOptions) {
    const protocols = builtinProtocols(options.protocols);
    this.classifier = createClassifier(createRegistry({ protocols }));
    this.byName = new Map(protocols.map((p) => [p.name, p]));
    const netcode = options.protocols.netcode;
    this.netcodeKey = netcode?.privateKey ? hexBytes(netcode.privateKey) : null;
    this.netcodeProtocolIds = netcode?.protocolIds?.map((id) => BigInt(id)) ?? undefined;
    this.clockRates = options.protocols.rtp?.clockRates ?? {};
  }

  /** Checks done once per flow before any parsing: source class, draining. */
  admit(listener: ListenerPolicy, source: string): DropDecision | null {
    if (listener.public) {
      const refused = refusedSource(source, listener.allowLoopbackSources);
      if (refused !== null) return { kind: 'drop', reason: `source_${refused}`, protocol: 'none' };
    }
    if (this.draining) return { kind: 'drop', reason: 'draining', protocol: 'none' };
    return null;
  }

  startFlow(): FlowClassifier {
    return this.classifier.flow();
  }

  /**
   * Verifies the token a token-mode flow's first datagram ends with
   * (signature, expiry). Expiry is checked here, once per flow: it bounds
   * when a session may start, and an established session keeps its token.
   */
  acceptToken(
    first: Datagram,
    nowSeconds = Math.floor(Date.now() / 1000),
  ): AcceptedToken | DropDecision {
    const secret = this.options.routingTokenSecret;
    // parseConfig refuses token listeners without a secret: nothing could be signed for this proxy.
    if (secret === null) return { kind: 'drop', reason: 'token_bad_signature', protocol: 'none' };
    const bytes = first.data.subarray(Math.max(0, first.data.length - ROUTING_TOKEN_BYTES));
    const check = verifyRoutingToken(secret, bytes, nowSeconds);
    if (!check.ok) return { kind: 'drop', reason: `token_${check.code}`, protocol: 'none' };
    return { key: check.key, bytes: Uint8Array.from(bytes) };
  }

  /** Offers one more datagram of a pending flow; `pending` until the classifier decides. */
  offer(
    listener: ListenerPolicy,
    flow: FlowClassifier,
    datagram: Datagram,
    all: readonly Datagram[],
    token: AcceptedToken | null = null,
  ): Decision {
    const c = flow.offer(datagram);
    if (c.state === 'pending') return PENDING;
    if (c.state === 'unknown') return this.unknown(listener, token);
    const name = c.protocol.name;
    if (name === 'netcode' && this.netcodeKey !== null) {
      const refused = this.checkNetcode(all);
      if (refused !== null) return { kind: 'drop', reason: refused, protocol: name };
    }
    const key = routingKey(c.protocol, all);
    const tracker = this.trackerOptions(name, c.variant, all);
    const protocol = name as 'raknet' | 'kcp' | 'netcode' | 'rtp' | 'rtcp';
    if (token !== null) {
      // Token mode: the token names the session and its route; the protocol's own key is not consulted.
      return {
        kind: 'answer',
        answer: { protocol, tracker, key: token.key, token: token.bytes },
        outcome: 'matched',
        protocol: name,
        key: token.key,
      };
    }
    if (listener.mode === 'key') {
      if (key === null) return { kind: 'drop', reason: 'no_key', protocol: name };
      return {
        kind: 'answer',
        answer: { protocol, tracker, key },
        outcome: 'matched',
        protocol: name,
        key,
      };
    }
    return {
      kind: 'answer',
      answer: { protocol, tracker, upstream: listener.upstream! },
      outcome: 'matched',
      protocol: name,
      key,
    };
  }

  private unknown(listener: ListenerPolicy, token: AcceptedToken | null): Decision {
    if (this.options.unknownFlows === 'drop')
      return { kind: 'drop', reason: 'unknown_protocol', protocol: 'none' };
    if (token !== null)
      // Any UDP game protocol can be token-routed: the token is the key, untracked.
      return {
        kind: 'answer',
        answer: { protocol: 'none', key: token.key, token: token.bytes },
        outcome: 'unknown',
        protocol: 'none',
        key: token.key,
      };
    if (listener.mode === 'key' || listener.upstream === null)
      return { kind: 'drop', reason: 'no_key', protocol: 'none' };
    return {
      kind: 'answer',
      answer: { protocol: 'none', upstream: listener.upstream },
      outcome: 'unknown',
      protocol: 'none',
      key: null,
    };
  }

  /** With the private key, a forged or expired request never reaches a pod (PROTOCOLS.md §3.2). */
  private checkNetcode(all: readonly Datagram[]): FlowDropReason | null {
    const request = all.find((d) => d.direction === 'forward' && d.data[0] === 0);
    if (request === undefined || this.netcodeKey === null) return null;
    const opened = openConnectionRequest(request.data, {
      privateKey: this.netcodeKey,
      ...(this.netcodeProtocolIds === undefined ? {} : { protocolIds: this.netcodeProtocolIds }),
    });
    return opened.ok ? null : `netcode_${opened.code}`;
  }

  private trackerOptions(name: string, variant: string, all: readonly Datagram[]): TrackerOptions {
    if (name === 'kcp') {
      const config = this.byName.get('kcp')?.config as KcpConfig | undefined;
      let id = KCP_NATIVE_VARIANT[variant] ?? 0;
      if (config !== undefined) {
        if (!config.fec) id |= KCP_NO_FEC;
        if (!config.cryptNone) id |= KCP_NO_CRYPT_NONE;
        if (!config.kcp2k) id |= KCP_NO_KCP2K;
        return { variant: id, maxPushLen: config.maxPushLength };
      }
      return { variant: id };
    }
    if (name === 'rtp') {
      // native/src/trackers/rtp.h: variant 1 + PT says clockRateHz is that payload type's clock.
      const first = all.find((d) => d.direction === 'forward' && d.data.length >= 12);
      const pt = first === undefined ? -1 : first.data[1]! & 0x7f;
      const hz = this.clockRates[String(pt)];
      if (hz !== undefined) return { variant: pt + 1, clockRateHz: hz };
    }
    return {};
  }
}

/** The protocol's key from the newest datagram that carries one (a request or a first segment). */
function routingKey(protocol: Protocol, all: readonly Datagram[]): string | null {
  for (let i = all.length - 1; i >= 0; i--) {
    const d = all[i]!;
    if (d.direction !== 'forward') continue;
    const key = protocol.routingKey(d);
    if (key !== null) return key;
  }
  return null;
}
