import { randomBytes } from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import type { ProxyConfig } from './config.js';
import { type HostPort, parseHostPort } from './endpoint.js';

const POD_PROTOCOL = Type.Union([
  Type.Literal('netcode'),
  Type.Literal('kcp'),
  Type.Literal('rtp'),
  Type.Literal('raknet'),
  Type.Literal('udp'),
]);

/** `POST /v1/pods`: a game server on this node announces itself. */
export const PodRegistrationSchema = Type.Object(
  {
    /** Optional: the server's own stable id (re-registering the same id replaces it). */
    id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' })),
    /** A literal IP address (no DNS). */
    address: Type.String({ minLength: 2, maxLength: 64 }),
    port: Type.Integer({ minimum: 1, maximum: 65_535 }),
    protocol: POD_PROTOCOL,
    capacity: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
    labels: Type.Optional(
      Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 256 }), {
        maxProperties: 32,
      }),
    ),
  },
  { additionalProperties: false },
);

/** `PUT /v1/pods/{id}/heartbeat`: still alive, with the slots the server itself has free. */
export const PodHeartbeatSchema = Type.Object(
  { freeSlots: Type.Integer({ minimum: 0, maximum: 1_000_000 }) },
  { additionalProperties: false },
);

export type PodRegistration = Static<typeof PodRegistrationSchema>;
export type PodHeartbeat = Static<typeof PodHeartbeatSchema>;

/** A pod the routing and the matchmaker link see: static (config) or registered. */
export interface KnownPod {
  readonly id: string;
  readonly endpoint: HostPort;
  readonly protocol: PodRegistration['protocol'];
  readonly capacity: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly source: 'static' | 'registered';
  /** What the server last said it has free (registered pods); null: only capacity counts. */
  readonly reportedFreeSlots: number | null;
  /** Missed its heartbeats: no new sessions; established ones continue. */
  readonly drained: boolean;
  readonly lastHeartbeatAt: number | null;
}

interface RegisteredPod {
  readonly registration: PodRegistration & { readonly id: string };
  readonly endpoint: HostPort;
  freeSlots: number | null;
  lastHeartbeatAt: number;
  drained: boolean;
}

export type RegisterResult =
  | { readonly ok: true; readonly id: string; readonly replaced: boolean }
  | {
      readonly ok: false;
      readonly code: 'GM_PROXY_POD_INVALID' | 'GM_PROXY_POD_CONFLICT';
      readonly detail: string;
    };

/**
 * The game pods registered on this node through the local pod API. A pod
 * that misses heartbeats for `heartbeatTimeoutMs` is drained: its routes are
 * withdrawn so no new session reaches it, while established sessions keep
 * their upstream (the data plane never looks a route up twice). A later
 * heartbeat brings it back.
 */
export class PodRegistry {
  private readonly pods = new Map<string, RegisteredPod>();

  constructor(readonly heartbeatTimeoutMs: number) {}

  register(body: PodRegistration, staticIds: ReadonlySet<string>, now: number): RegisterResult {
    const endpoint = parseHostPort(
      body.address.includes(':')
        ? `[${body.address}]:${body.port}`
        : `${body.address}:${body.port}`,
    );
    if (typeof endpoint === 'string')
      return { ok: false, code: 'GM_PROXY_POD_INVALID', detail: `address: ${endpoint}` };
    const id = body.id ?? `pod-${randomBytes(6).toString('hex')}`;
    if (staticIds.has(id))
      return { ok: false, code: 'GM_PROXY_POD_CONFLICT', detail: `"${id}" is a static pod` };
    for (const [other, pod] of this.pods)
      if (
        other !== id &&
        pod.endpoint.address === endpoint.address &&
        pod.endpoint.port === endpoint.port
      )
        return {
          ok: false,
          code: 'GM_PROXY_POD_CONFLICT',
          detail: `${body.address}:${body.port} is registered as "${other}"`,
        };
    const replaced = this.pods.has(id);
    this.pods.set(id, {
      registration: { ...body, id, labels: { ...(body.labels ?? {}) } },
      endpoint,
      freeSlots: null,
      lastHeartbeatAt: now,
      drained: false,
    });
    return { ok: true, id, replaced };
  }

  /** Returns false for an unknown id; `revived` when the pod was drained. */
  heartbeat(id: string, freeSlots: number, now: number): { found: boolean; revived: boolean } {
    const pod = this.pods.get(id);
    if (pod === undefined) return { found: false, revived: false };
    const revived = pod.drained;
    pod.freeSlots = freeSlots;
    pod.lastHeartbeatAt = now;
    pod.drained = false;
    return { found: true, revived };
  }

  remove(id: string): boolean {
    return this.pods.delete(id);
  }

  /** Drains pods whose last heartbeat is older than the timeout; returns the newly drained ids. */
  expire(now: number): string[] {
    const drained: string[] = [];
    for (const [id, pod] of this.pods)
      if (!pod.drained && now - pod.lastHeartbeatAt > this.heartbeatTimeoutMs) {
        pod.drained = true;
        drained.push(id);
      }
    return drained;
  }

  get size(): number {
    return this.pods.size;
  }

  /** Static pods of the config first, then the registered ones. */
  all(config: ProxyConfig): KnownPod[] {
    const out: KnownPod[] = [];
    for (const pod of config.pods) {
      const endpoint = parseHostPort(pod.address);
      if (typeof endpoint === 'string') continue;
      out.push({
        id: pod.id,
        endpoint,
        protocol: pod.protocol,
        capacity: pod.capacity,
        labels: pod.labels,
        source: 'static',
        reportedFreeSlots: null,
        drained: false,
        lastHeartbeatAt: null,
      });
    }
    for (const pod of this.pods.values())
      out.push({
        id: pod.registration.id,
        endpoint: pod.endpoint,
        protocol: pod.registration.protocol,
        capacity: pod.registration.capacity,
        labels: pod.registration.labels ?? {},
        source: 'registered',
        reportedFreeSlots: pod.freeSlots,
        drained: pod.drained,
        lastHeartbeatAt: pod.lastHeartbeatAt,
      });
    return out;
  }
}
