import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import type { RouteAssignment } from '../domain/types.js';
import { linkAuthHeaders } from './auth.js';
import {
  decodeServerFrame,
  encodeFrame,
  LINK_VERSION,
  type PodReport,
  type ServerFrame,
} from './frames.js';

export interface LinkNode {
  readonly id: string;
  readonly cluster: string;
  readonly region: string;
  /** `ip:port` players reach this node proxy on. */
  readonly publicAddress: string;
}

export interface LinkClientOptions {
  /** e.g. `ws://127.0.0.1:8080/v1/link`. */
  readonly url: string;
  readonly secret: string;
  readonly node: LinkNode;
  /** The node's pods as the proxy sees them (free slots before held assignments). */
  readonly pods: readonly PodReport[];
  /** Heartbeat period until the server's welcome says otherwise. */
  readonly heartbeatMs?: number;
  readonly reconnectMs?: number;
  /** Return a reason to refuse (nack) an assignment, or null to accept it. */
  readonly refuse?: (routes: readonly RouteAssignment[]) => string | null;
}

export interface LinkClientEvents {
  connected: [];
  disconnected: [code: number];
  /** After a full resync or an assignment: the routing table changed. */
  routes: [];
  /** A server error frame (e.g. unknown cluster). */
  error: [code: string, message: string];
}

/**
 * The node proxy's end of the link. It keeps the last known routing table
 * across disconnects (the proxy keeps serving it while the matchmaker is
 * away), reconnects by itself, and replaces the table on every resync.
 *
 * Free slots it reports are net of assignments it holds whose players have not
 * arrived yet (call `consume(key)` when a routed session opens), so the
 * matchmaker never counts a held slot as free.
 */
export class LinkClient extends EventEmitter<LinkClientEvents> {
  private readonly options: LinkClientOptions;
  private socket: WebSocket | null = null;
  private pods: PodReport[];
  private readonly table = new Map<string, RouteAssignment>();
  private readonly consumed = new Set<string>();
  private heartbeatMs: number;
  private heartbeat: NodeJS.Timeout | null = null;
  private reconnect: NodeJS.Timeout | null = null;
  private closed = false;
  /** The TCP socket under `socket`, corked while a tick's frames are written. */
  private transport: Socket | null = null;
  private corked = false;
  connected = false;

  constructor(options: LinkClientOptions) {
    super();
    this.options = options;
    this.pods = [...options.pods];
    this.heartbeatMs = options.heartbeatMs ?? 1000;
  }

  start(): this {
    this.connect();
    return this;
  }

  /** Resolves once registered and resynced. */
  ready(): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve) => this.once('routes', () => resolve()));
  }

  private connect(): void {
    if (this.closed) return;
    const socket = new WebSocket(this.options.url, {
      headers: linkAuthHeaders(this.options.secret, this.options.node.id),
    });
    this.socket = socket;
    socket.binaryType = 'nodebuffer';
    socket.once('upgrade', (response) => {
      this.transport = response.socket;
    });
    socket.on('open', () => {
      socket.send(
        encodeFrame({
          t: 'register',
          version: LINK_VERSION,
          node: { ...this.options.node },
          pods: this.reportedPods(),
        }),
      );
    });
    socket.on('message', (data: Buffer) => {
      const frame = decodeServerFrame(data);
      if (frame !== null) this.handle(frame);
    });
    socket.on('error', () => undefined);
    socket.on('close', (code: number) => {
      if (this.socket === socket) this.socket = null;
      this.stopHeartbeat();
      const was = this.connected;
      this.connected = false;
      if (was) this.emit('disconnected', code);
      if (!this.closed && this.reconnect === null)
        this.reconnect = setTimeout(() => {
          this.reconnect = null;
          this.connect();
        }, this.options.reconnectMs ?? 500);
    });
  }

  private handle(frame: ServerFrame): void {
    switch (frame.t) {
      case 'welcome':
        this.heartbeatMs = frame.heartbeatMs;
        this.startHeartbeat();
        return;
      case 'resync':
        this.table.clear();
        for (const route of frame.routes) this.table.set(route.key, route);
        for (const key of [...this.consumed]) if (!this.table.has(key)) this.consumed.delete(key);
        this.connected = true;
        this.emit('connected');
        this.emit('routes');
        return;
      case 'assign': {
        const reason = this.options.refuse?.(frame.routes) ?? null;
        if (reason !== null) {
          this.send({ t: 'nack', id: frame.id, reason });
          return;
        }
        for (const route of frame.routes) this.table.set(route.key, route);
        // Held before acknowledging: any heartbeat after the ack already counts these players.
        this.send({ t: 'ack', id: frame.id });
        this.emit('routes');
        return;
      }
      case 'revoke':
        for (const key of frame.keys) {
          this.table.delete(key);
          this.consumed.delete(key);
        }
        this.emit('routes');
        return;
      case 'error':
        this.emit('error', frame.code, frame.message);
        return;
    }
  }

  private send(frame: Parameters<typeof encodeFrame>[0]): void {
    if (this.socket?.readyState !== WebSocket.OPEN) return;
    // A round's assign frames arrive together; their acks, held back until the
    // next tick, leave in one write instead of one syscall (and one wake-up of
    // the matchmaker) each.
    const transport = this.transport;
    if (transport !== null && !this.corked) {
      this.corked = true;
      transport.cork();
      process.nextTick(() => {
        this.corked = false;
        transport.uncork();
      });
    }
    this.socket.send(encodeFrame(frame));
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => this.sendHeartbeat(), this.heartbeatMs);
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private sendHeartbeat(): void {
    this.send({ t: 'heartbeat', pods: this.reportedPods() });
  }

  private prune(now: number): void {
    for (const [key, route] of this.table)
      if (route.expiresAt <= now) {
        this.table.delete(key);
        this.consumed.delete(key);
      }
  }

  /** Pods with held (assigned, not yet arrived) players taken out of their free slots. */
  reportedPods(now: number = Date.now()): PodReport[] {
    this.prune(now);
    const held = new Map<string, { all: number; backfill: number }>();
    const sessionOf = new Map(this.pods.map((p) => [p.id, p.sessionId]));
    for (const route of this.table.values()) {
      if (this.consumed.has(route.key)) continue;
      const entry = held.get(route.pod) ?? { all: 0, backfill: 0 };
      entry.all++;
      if (route.matchId === sessionOf.get(route.pod)) entry.backfill++;
      held.set(route.pod, entry);
    }
    return this.pods.map((pod) => {
      const h = held.get(pod.id);
      if (h === undefined) return pod;
      return {
        ...pod,
        freeSlots: Math.max(0, pod.freeSlots - h.all),
        backfillSlots: Math.max(0, pod.backfillSlots - h.backfill),
      };
    });
  }

  /** New pod list (e.g. a pod registered, filled up or started draining); sent at once. */
  setPods(pods: readonly PodReport[]): void {
    this.pods = [...pods];
    this.sendHeartbeat();
  }

  /** Stop taking players on some pods (or all, with null) until reconnect. */
  drain(pods: readonly string[] | null): void {
    this.send({ t: 'drain', pods: pods === null ? null : [...pods] });
  }

  /** The unexpired assignment for a routing key, if any. */
  lookup(key: string, now: number = Date.now()): RouteAssignment | undefined {
    const route = this.table.get(key);
    if (route === undefined || route.expiresAt <= now) return undefined;
    return route;
  }

  routes(): RouteAssignment[] {
    return [...this.table.values()];
  }

  /** The player behind `key` arrived: the pod's own free-slot count now includes it. */
  consume(key: string): void {
    if (this.table.has(key)) this.consumed.add(key);
  }

  close(): void {
    this.closed = true;
    if (this.reconnect !== null) clearTimeout(this.reconnect);
    this.reconnect = null;
    this.stopHeartbeat();
    this.socket?.close();
    this.socket?.terminate();
    this.socket = null;
  }
}
