import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import {
  ADDRESS_IPV6,
  addressesEqual,
  formatHost,
  fromHostPort,
  type NetcodeAddress,
} from './address.js';
import {
  type EncryptedPacketType,
  MAX_PAYLOAD_BYTES,
  NUM_DISCONNECT_PACKETS,
  PACKET_SEND_RATE_HZ,
} from './constants.js';
import {
  type EncryptedPacket,
  ReplayProtection,
  readEncryptedPacket,
  writeConnectionRequest,
  writeEncryptedPacket,
} from './packets.js';
import {
  bindSocket,
  clockSeconds,
  closeSocket,
  PendingSends,
  toUint8Array,
} from './socket-util.js';
import { type ConnectToken, readConnectToken } from './token.js';

/**
 * A netcode 1.02 client over node:dgram: connect token -> connection request
 * at 10 Hz -> challenge -> response at 10 Hz -> keep-alive -> connected.
 * Tries each server address of the token in turn, as the reference client does.
 */

export type NetcodeClientState =
  | 'disconnected'
  | 'sending_request'
  | 'sending_response'
  | 'connected'
  | 'invalid_token'
  | 'token_expired'
  | 'denied'
  | 'request_timed_out'
  | 'response_timed_out'
  | 'connection_timed_out';

export interface NetcodeClientEvents {
  state: [state: NetcodeClientState];
  connected: [info: { clientIndex: number; maxClients: number }];
  payload: [payload: Uint8Array];
  /** The session ended: the server said so, it timed out, or `disconnect()` was called. */
  disconnected: [state: NetcodeClientState];
}

export interface NetcodeClientOptions {
  /** The 2048-byte public connect token. */
  readonly connectToken: Uint8Array;
  /** Local bind host; defaults to the loopback of the server's family. */
  readonly host?: string;
}

const FROM_SERVER: ReadonlySet<EncryptedPacketType> = new Set([1, 2, 4, 5, 6]);
const SEND_INTERVAL = 1 / PACKET_SEND_RATE_HZ;
// The loop runs faster than the send rate: with a 100 ms timer, jitter makes
// every other tick fall just short of the interval and halves the rate.
const UPDATE_INTERVAL_MS = 20;

export class NetcodeClient extends EventEmitter<NetcodeClientEvents> {
  private current: NetcodeClientState = 'disconnected';
  private readonly token: ConnectToken | null;
  private serverIndex = 0;
  private sequence = 0n;
  private replay = new ReplayProtection();
  private challenge: { sequence: bigint; token: Uint8Array } | null = null;
  private lastSend = -Infinity;
  private lastReceive = 0;
  private connectStart = 0;
  private socket: Socket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  private readonly pending = new PendingSends();
  clientIndex = -1;
  maxClients = 0;

  constructor(private readonly options: NetcodeClientOptions) {
    super();
    const read = readConnectToken(options.connectToken);
    this.token = read.ok ? read.value : null;
  }

  get state(): NetcodeClientState {
    return this.current;
  }

  /** Binds a socket and starts connecting. Resolves once bound; watch `state`/`connected` for progress. */
  async connect(): Promise<void> {
    if (this.socket !== null || this.closing !== null)
      throw new Error('NetcodeClient: connect() called twice');
    const token = this.token;
    if (token === null) {
      this.setState('invalid_token');
      return;
    }
    const ipv6 = token.serverAddresses[0]!.type === ADDRESS_IPV6;
    const socket = createSocket(ipv6 ? 'udp6' : 'udp4');
    this.socket = socket;
    socket.on('message', (data: Buffer, from: RemoteInfo) =>
      this.receive(toUint8Array(data), from),
    );
    await bindSocket(socket, 0, this.options.host ?? (ipv6 ? '::1' : '127.0.0.1'));
    this.timer = setInterval(() => this.update(), UPDATE_INTERVAL_MS);
    this.connectStart = clockSeconds();
    this.beginServer(0);
  }

  /** The local port, once bound. */
  get port(): number | null {
    return this.socket === null ? null : this.socket.address().port;
  }

  send(payload: Uint8Array): boolean {
    if (this.current !== 'connected' || payload.length < 1 || payload.length > MAX_PAYLOAD_BYTES)
      return false;
    this.sendEncrypted({ type: 5, payload });
    return true;
  }

  /**
   * Sends the disconnect packets (when connected) and stops. Resolves once
   * they were handed to the socket; the socket stays until `close()`.
   */
  disconnect(): Promise<void> {
    if (this.current === 'connected') {
      for (let i = 0; i < NUM_DISCONNECT_PACKETS; i++) this.sendEncrypted({ type: 6 });
    }
    this.finish('disconnected');
    return this.pending.settled();
  }

  /**
   * Disconnects if connected, then releases the socket and the timer once
   * every datagram already given to it was written. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.current === 'connected') void this.disconnect();
      this.stopTimer();
      // The disconnect burst above is lost if the socket closes before it is written.
      await this.pending.settled();
      const socket = this.socket;
      this.socket = null;
      if (socket !== null) await closeSocket(socket);
    })();
    return this.closing;
  }

  private get server(): NetcodeAddress | null {
    return this.token?.serverAddresses[this.serverIndex] ?? null;
  }

  private beginServer(index: number): void {
    this.serverIndex = index;
    this.sequence = 0n;
    this.replay = new ReplayProtection();
    this.challenge = null;
    this.lastSend = -Infinity;
    this.lastReceive = clockSeconds();
    this.setState('sending_request');
    this.update();
  }

  /** On a failed attempt, the next server in the token gets its turn; after the last, the failure stands. */
  private fail(state: NetcodeClientState): void {
    const token = this.token;
    if (token !== null && this.serverIndex + 1 < token.serverAddresses.length) {
      this.beginServer(this.serverIndex + 1);
      return;
    }
    this.finish(state);
  }

  private finish(state: NetcodeClientState): void {
    const wasActive = this.current === 'connected';
    this.stopTimer();
    this.setState(state);
    if (wasActive) this.emit('disconnected', state);
  }

  private stopTimer(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private receive(data: Uint8Array, from: RemoteInfo): void {
    const token = this.token;
    const server = this.server;
    const remote = fromHostPort(from.address, from.port);
    if (token === null || server === null || remote === null || !addressesEqual(remote, server))
      return;
    if (this.timer === null) return;
    const read = readEncryptedPacket(data, {
      key: token.serverToClientKey,
      protocolId: token.protocolId,
      allowed: FROM_SERVER,
      replay: this.replay,
    });
    if (!read.ok) return;
    this.handle(read.packet);
  }

  private handle(packet: EncryptedPacket): void {
    const state = this.current;
    switch (packet.type) {
      case 1:
        if (state === 'sending_request' || state === 'sending_response') this.fail('denied');
        return;
      case 2:
        if (state !== 'sending_request') return;
        this.challenge = { sequence: packet.challengeSequence, token: packet.challengeToken };
        this.lastReceive = clockSeconds();
        this.lastSend = -Infinity;
        this.setState('sending_response');
        this.update();
        return;
      case 4:
        if (state === 'sending_response') {
          this.lastReceive = clockSeconds();
          this.clientIndex = packet.clientIndex;
          this.maxClients = packet.maxClients;
          this.setState('connected');
          this.emit('connected', {
            clientIndex: packet.clientIndex,
            maxClients: packet.maxClients,
          });
        } else if (state === 'connected') {
          this.lastReceive = clockSeconds();
        }
        return;
      case 5:
        if (state !== 'connected') return;
        this.lastReceive = clockSeconds();
        this.emit('payload', packet.payload);
        return;
      case 6:
        if (state === 'connected') this.finish('disconnected');
        return;
      default:
        return;
    }
  }

  private update(): void {
    const token = this.token;
    if (token === null || this.timer === null) return;
    const now = clockSeconds();
    const state = this.current;
    const lifetime = Number(token.expireTimestamp - token.createTimestamp);
    const timedOut = token.timeoutSeconds > 0 && this.lastReceive + token.timeoutSeconds < now;
    if (state === 'sending_request' || state === 'sending_response') {
      if (this.connectStart + lifetime <= now) {
        this.finish('token_expired');
        return;
      }
      if (timedOut) {
        this.fail(state === 'sending_request' ? 'request_timed_out' : 'response_timed_out');
        return;
      }
    } else if (state === 'connected') {
      if (timedOut) {
        this.finish('connection_timed_out');
        return;
      }
    } else {
      return;
    }
    if (this.lastSend + SEND_INTERVAL > now) return;
    if (state === 'sending_request') {
      this.sendRaw(writeConnectionRequest(token));
      this.lastSend = now;
    } else if (state === 'sending_response' && this.challenge !== null) {
      this.sendEncrypted({
        type: 3,
        challengeSequence: this.challenge.sequence,
        challengeToken: this.challenge.token,
      });
    } else if (state === 'connected') {
      this.sendEncrypted({ type: 4, clientIndex: 0, maxClients: 0 });
    }
  }

  private sendEncrypted(packet: EncryptedPacket): void {
    const token = this.token;
    if (token === null) return;
    this.sendRaw(
      writeEncryptedPacket(packet, this.sequence++, token.clientToServerKey, token.protocolId),
    );
    this.lastSend = clockSeconds();
  }

  private sendRaw(bytes: Uint8Array): void {
    const server = this.server;
    if (this.socket === null || server === null) return;
    this.pending.send(this.socket, bytes, server.port, formatHost(server));
  }

  private setState(state: NetcodeClientState): void {
    if (this.current === state) return;
    this.current = state;
    this.emit('state', state);
  }
}
