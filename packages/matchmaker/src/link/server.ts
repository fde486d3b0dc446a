import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { AssignmentDispatcher, DispatchResult, Matchmaker } from '../domain/matchmaker.js';
import type { Pod, RouteAssignment } from '../domain/types.js';
import { errorBody, MM_ERRORS, type MmErrorCode } from '../errors.js';
import type { MatchmakerMetrics } from '../metrics.js';
import { verifyLinkAuth } from './auth.js';
import {
  type ClientFrame,
  decodeClientFrame,
  encodeFrame,
  LINK_PATH,
  LINK_VERSION,
  type PodReport,
  type ServerFrame,
} from './frames.js';

export interface LinkServerOptions {
  readonly matchmaker: Matchmaker;
  readonly metrics: MatchmakerMetrics;
  readonly secret: string;
  readonly heartbeatTimeoutMs: number;
  readonly ackTimeoutMs: number;
  readonly maxSkewSeconds: number;
  /** Frames larger than this close the connection (a full pod list fits easily). */
  readonly maxFrameBytes?: number;
}

interface PendingAck {
  readonly resolve: (result: DispatchResult) => void;
  readonly timer: NodeJS.Timeout;
}

/** One node proxy's connection. Frames are handled strictly in arrival order. */
class NodeConnection {
  registered = false;
  readonly pending = new Map<string, PendingAck>();
  private chain: Promise<void> = Promise.resolve();
  private corked = false;

  constructor(
    readonly nodeId: string,
    readonly socket: WebSocket,
    /** The upgraded TCP socket under `socket`, corked to coalesce a tick's frames. */
    private readonly transport: Duplex,
  ) {}

  enqueue(work: () => Promise<void>): void {
    this.chain = this.chain.then(work, work).catch(() => undefined);
  }

  send(frame: ServerFrame): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    // A round sends one assign per match within a few microtasks: held back
    // until the next tick they leave in one write instead of one syscall each.
    if (!this.corked) {
      this.corked = true;
      this.transport.cork();
      process.nextTick(() => {
        this.corked = false;
        this.transport.uncork();
      });
    }
    this.socket.send(encodeFrame(frame));
  }

  failPending(result: DispatchResult): void {
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      this.pending.delete(id);
      pending.resolve(result);
    }
  }
}

export function podFromReport(report: PodReport): Pod {
  return { ...report };
}

/**
 * The matchmaker side of the proxy link: authenticates upgrades, keeps each
 * node's pods fresh from heartbeats, and delivers assignments, resolving a
 * dispatch only when the proxy acknowledges it (or fails it on nack, timeout
 * or disconnect so the reservation is released).
 */
export class LinkServer implements AssignmentDispatcher {
  private readonly wss: WebSocketServer;
  private readonly connections = new Map<string, NodeConnection>();
  private readonly linkListeners = new Set<(node: string, linked: boolean) => void>();
  private readonly sweep: NodeJS.Timeout;
  private readonly options: LinkServerOptions;

  constructor(options: LinkServerOptions) {
    this.options = options;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxFrameBytes ?? 4 << 20,
    });
    this.sweep = setInterval(
      () => {
        options.matchmaker
          .sweepHeartbeats()
          .then((missed) => {
            for (const _ of missed) options.metrics.linkEvents.inc({ event: 'heartbeat_missed' });
          })
          .catch(() => undefined);
      },
      Math.max(50, Math.floor(options.heartbeatTimeoutMs / 2)),
    );
    this.sweep.unref();
    options.matchmaker.setDispatcher(this);
  }

  attach(server: Server): void {
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade(request, socket, head),
    );
  }

  get connectedNodes(): string[] {
    return [...this.connections.keys()];
  }

  /** Whether this replica holds the node's registered link (assignments to it go through here). */
  holds(node: string): boolean {
    return this.connections.get(node)?.registered === true;
  }

  /** Called when a node registers on this replica (true) or its current link closes (false). */
  onLinkChange(listener: (node: string, linked: boolean) => void): () => void {
    this.linkListeners.add(listener);
    return () => this.linkListeners.delete(listener);
  }

  private linkChanged(node: string, linked: boolean): void {
    for (const listener of this.linkListeners) listener(node, linked);
  }

  private reject(socket: Duplex, status: number, code: MmErrorCode): void {
    const body = JSON.stringify(errorBody(code));
    socket.end(
      `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Not Found'}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    const path = (request.url ?? '').split('?')[0];
    if (path !== LINK_PATH) {
      this.reject(socket, 404, 'GM_MM_ROUTE_NOT_FOUND');
      return;
    }
    const nodeId = verifyLinkAuth(
      this.options.secret,
      request.headers,
      this.options.maxSkewSeconds,
    );
    if (nodeId === null) {
      this.options.metrics.linkEvents.inc({ event: 'rejected' });
      this.reject(socket, 401, 'GM_MM_UNAUTHORIZED');
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(nodeId, ws, socket));
  }

  private accept(nodeId: string, ws: WebSocket, transport: Duplex): void {
    const previous = this.connections.get(nodeId);
    if (previous !== undefined) {
      previous.send({
        t: 'error',
        code: 'GM_MM_LINK_REPLACED',
        message: MM_ERRORS.GM_MM_LINK_REPLACED.message,
      });
      previous.socket.close(4009, 'replaced');
      previous.failPending('proxy_gone');
    }
    const connection = new NodeConnection(nodeId, ws, transport);
    this.connections.set(nodeId, connection);
    this.options.metrics.linkEvents.inc({ event: 'connected' });
    this.options.metrics.linkConnections.set(this.connections.size);
    ws.on('error', () => undefined);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const frame = isBinary ? decodeClientFrame(data) : null;
      if (frame === null) {
        this.options.metrics.linkEvents.inc({ event: 'bad_frame' });
        this.fatal(connection, 'GM_MM_LINK_BAD_FRAME');
        return;
      }
      connection.enqueue(() => this.handle(connection, frame));
    });
    ws.on('close', () => {
      connection.failPending('proxy_gone');
      if (this.connections.get(nodeId) !== connection) return;
      this.connections.delete(nodeId);
      this.options.metrics.linkEvents.inc({ event: 'disconnected' });
      this.options.metrics.linkConnections.set(this.connections.size);
      if (connection.registered) this.linkChanged(nodeId, false);
      connection.enqueue(() => this.options.matchmaker.nodeDisconnected(nodeId));
    });
  }

  private fatal(connection: NodeConnection, code: MmErrorCode, detail?: string): void {
    const message =
      detail === undefined ? MM_ERRORS[code].message : `${MM_ERRORS[code].message}: ${detail}`;
    connection.send({ t: 'error', code, message });
    connection.socket.close(4400, code);
  }

  private async handle(connection: NodeConnection, frame: ClientFrame): Promise<void> {
    const mm = this.options.matchmaker;
    if (!connection.registered && frame.t !== 'register') {
      this.fatal(connection, 'GM_MM_LINK_NOT_REGISTERED');
      return;
    }
    switch (frame.t) {
      case 'register': {
        if (frame.node.id !== connection.nodeId) {
          this.fatal(connection, 'GM_MM_LINK_BAD_FRAME', 'node id differs from the signed one');
          return;
        }
        const result = await mm.registerNode({
          id: frame.node.id,
          cluster: frame.node.cluster,
          region: frame.node.region,
          publicAddress: frame.node.publicAddress,
          pods: frame.pods.map(podFromReport),
        });
        if (!result.ok) {
          this.fatal(connection, result.code, result.detail);
          return;
        }
        connection.registered = true;
        this.linkChanged(connection.nodeId, true);
        connection.send({
          t: 'welcome',
          version: LINK_VERSION,
          heartbeatMs: Math.floor(this.options.heartbeatTimeoutMs / 3),
        });
        // Full resync: the proxy replaces whatever it held with this list.
        connection.send({
          t: 'resync',
          routes: await mm.store.routesFor(connection.nodeId, mm.now()),
        });
        return;
      }
      case 'heartbeat':
        await mm.heartbeat(connection.nodeId, frame.pods.map(podFromReport));
        return;
      case 'drain':
        await mm.drainNode(connection.nodeId, frame.pods);
        return;
      case 'ack':
      case 'nack': {
        const pending = connection.pending.get(frame.id);
        if (pending === undefined) return;
        connection.pending.delete(frame.id);
        clearTimeout(pending.timer);
        pending.resolve(frame.t === 'ack' ? 'ack' : 'proxy_nack');
        return;
      }
    }
  }

  dispatch(node: string, routes: readonly RouteAssignment[]): Promise<DispatchResult> {
    const connection = this.connections.get(node);
    if (connection === undefined || !connection.registered) return Promise.resolve('proxy_gone');
    const id = randomUUID();
    return new Promise<DispatchResult>((resolve) => {
      const timer = setTimeout(() => {
        connection.pending.delete(id);
        resolve('ack_timeout');
      }, this.options.ackTimeoutMs);
      connection.pending.set(id, { resolve, timer });
      connection.send({ t: 'assign', id, routes: [...routes] });
    }).then((result) => {
      // A late or missing ack must not leave the proxy routing players who never got the assignment.
      if (result === 'ack_timeout')
        this.revoke(
          node,
          routes.map((r) => r.key),
        );
      return result;
    });
  }

  revoke(node: string, keys: readonly string[]): void {
    const connection = this.connections.get(node);
    if (connection === undefined || keys.length === 0) return;
    connection.send({ t: 'revoke', keys: [...keys] });
    connection.enqueue(() => this.options.matchmaker.store.removeRoutes(node, keys));
  }

  async close(): Promise<void> {
    clearInterval(this.sweep);
    for (const connection of this.connections.values()) {
      connection.failPending('proxy_gone');
      connection.socket.terminate();
    }
    this.connections.clear();
    this.options.metrics.linkConnections.set(0);
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
