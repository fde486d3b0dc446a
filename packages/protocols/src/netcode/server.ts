import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { hex } from '@gamemesh/core';
import {
  addressesEqual,
  formatAddress,
  formatHost,
  fromHostPort,
  type NetcodeAddress,
  parseAddress,
} from './address.js';
import {
  type EncryptedPacketType,
  GLOBAL_SEQUENCE_START,
  KEY_BYTES,
  MAX_PAYLOAD_BYTES,
  NUM_DISCONNECT_PACKETS,
  PACKET_SEND_RATE_HZ,
} from './constants.js';
import { type OpenRequestCode, openConnectionRequest } from './open-request.js';
import {
  type EncryptedPacket,
  ReplayProtection,
  readEncryptedPacket,
  writeEncryptedPacket,
} from './packets.js';
import {
  bindSocket,
  clockSeconds,
  closeSocket,
  PendingSends,
  toUint8Array,
  unixSeconds,
} from './socket-util.js';
import { decryptChallengeToken, encryptChallengeToken } from './token.js';

/**
 * A netcode 1.02 server over node:dgram, following the reference server's
 * request processing order (PROTOCOLS.md §3.2) so that proxy tests exercise
 * the same accept/ignore decisions a C server would make.
 */

export interface NetcodeServerOptions {
  readonly privateKey: Uint8Array;
  readonly protocolId: bigint | number;
  readonly maxClients: number;
  /** The address tokens must list (a proxy's address when one is in front). Defaults to the bound address. */
  readonly publicAddress?: string;
  readonly host?: string;
  readonly port?: number;
}

export interface NetcodeServerClient {
  readonly clientIndex: number;
  readonly clientId: bigint;
  readonly address: string;
  readonly userData: Uint8Array;
}

export type ServerDisconnectReason = 'client_disconnect' | 'timeout' | 'server';

export interface NetcodeServerEvents {
  connect: [client: NetcodeServerClient];
  disconnect: [client: NetcodeServerClient, reason: ServerDisconnectReason];
  payload: [client: NetcodeServerClient, payload: Uint8Array];
  /** A request the server ignored, with the reason (observability for tests and operators). */
  ignored: [
    reason:
      | OpenRequestCode
      | 'not_my_address'
      | 'already_connected'
      | 'token_reused'
      | 'bad_challenge',
  ];
  denied: [address: string];
}

interface EncryptionMapping {
  readonly sendKey: Uint8Array;
  readonly receiveKey: Uint8Array;
  readonly timeoutSeconds: number;
  /** Clock seconds after which a not-yet-connected mapping dies (token expiry); Infinity once connected. */
  expireAt: number;
  lastAccess: number;
}

interface ClientSlot extends NetcodeServerClient {
  readonly remote: NetcodeAddress;
  readonly mapping: EncryptionMapping;
  readonly replay: ReplayProtection;
  sequence: bigint;
  lastSend: number;
  lastReceive: number;
  confirmed: boolean;
}

const FROM_CLIENT: ReadonlySet<EncryptedPacketType> = new Set([3, 4, 5, 6]);
const SEND_INTERVAL = 1 / PACKET_SEND_RATE_HZ;
// The loop runs faster than the send rate: with a 100 ms timer, jitter makes
// every other tick fall just short of the interval and halves the rate.
const UPDATE_INTERVAL_MS = 20;

export class NetcodeServer extends EventEmitter<NetcodeServerEvents> {
  private readonly privateKey: Uint8Array;
  private readonly protocolId: bigint;
  private readonly maxClients: number;
  private readonly slots: (ClientSlot | null)[];
  private readonly mappings = new Map<string, EncryptionMapping>();
  private readonly tokenUses = new Map<string, { address: string; expireAt: number }>();
  private readonly challengeKey = new Uint8Array(randomBytes(KEY_BYTES));
  private challengeSequence = 0n;
  private globalSequence = GLOBAL_SEQUENCE_START;
  private ownAddress: NetcodeAddress | null;
  private socket: Socket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  private readonly pending = new PendingSends();

  constructor(private readonly options: NetcodeServerOptions) {
    super();
    if (options.privateKey.length !== KEY_BYTES)
      throw new RangeError('NetcodeServer: privateKey must be 32 bytes');
    if (!Number.isInteger(options.maxClients) || options.maxClients < 1)
      throw new RangeError('NetcodeServer: maxClients must be >= 1');
    this.privateKey = options.privateKey;
    this.protocolId = BigInt.asUintN(64, BigInt(options.protocolId));
    this.maxClients = options.maxClients;
    this.slots = new Array<ClientSlot | null>(options.maxClients).fill(null);
    this.ownAddress =
      options.publicAddress === undefined ? null : requireAddress(options.publicAddress);
  }

  /** Binds the socket and starts the 10 Hz update loop. Resolves to the bound `ip:port`. */
  async start(): Promise<string> {
    if (this.socket !== null || this.closing !== null)
      throw new Error('NetcodeServer: already started');
    const host = this.options.host ?? '127.0.0.1';
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    this.socket = socket;
    socket.on('message', (data: Buffer, from: RemoteInfo) =>
      this.receive(toUint8Array(data), from),
    );
    await bindSocket(socket, this.options.port ?? 0, host);
    const bound = socket.address();
    const boundAddress = requireAddress(
      bound.family === 'IPv6'
        ? `[${bound.address}]:${bound.port}`
        : `${bound.address}:${bound.port}`,
    );
    this.ownAddress ??= boundAddress;
    this.timer = setInterval(() => this.update(), UPDATE_INTERVAL_MS);
    return formatAddress(boundAddress);
  }

  /** The address tokens must list; a proxy in front may only be known after the server is bound. */
  get publicAddress(): string | null {
    return this.ownAddress === null ? null : formatAddress(this.ownAddress);
  }

  setPublicAddress(address: string): void {
    this.ownAddress = requireAddress(address);
  }

  get connectedClients(): readonly NetcodeServerClient[] {
    return this.slots.filter((slot): slot is ClientSlot => slot !== null);
  }

  /** The sequence the next challenge/denied packet will carry (1 << 63 at start, like the reference). */
  get nextGlobalSequence(): bigint {
    return this.globalSequence;
  }

  sendPayload(clientIndex: number, payload: Uint8Array): boolean {
    const slot = this.slots[clientIndex];
    if (
      slot === null ||
      slot === undefined ||
      payload.length < 1 ||
      payload.length > MAX_PAYLOAD_BYTES
    )
      return false;
    // Until the client proves it is connected, each payload is preceded by a
    // keep-alive so the client can complete its handshake (reference behaviour).
    if (!slot.confirmed)
      this.sendToClient(slot, {
        type: 4,
        clientIndex: slot.clientIndex,
        maxClients: this.maxClients,
      });
    this.sendToClient(slot, { type: 5, payload });
    return true;
  }

  disconnectClient(clientIndex: number): void {
    const slot = this.slots[clientIndex];
    if (slot !== null && slot !== undefined) this.drop(slot, 'server', true);
  }

  /**
   * Disconnects every client (sending disconnect packets), stops the loop,
   * then releases the socket once every datagram already given to it was
   * written. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.timer !== null) clearInterval(this.timer);
      this.timer = null;
      for (const slot of this.slots) if (slot !== null) this.drop(slot, 'server', true);
      // The disconnect bursts above are lost if the socket closes before they are written.
      await this.pending.settled();
      const socket = this.socket;
      this.socket = null;
      if (socket !== null) await closeSocket(socket);
    })();
    return this.closing;
  }

  private receive(data: Uint8Array, from: RemoteInfo): void {
    // While close() waits for the disconnect bursts, the socket still reads:
    // a client must not take a slot that nothing will ever disconnect.
    if (this.closing !== null) return;
    const remote = fromHostPort(from.address, from.port);
    if (remote === null || data.length === 0) return;
    const key = formatAddress(remote);
    if (data[0] === 0) {
      this.processRequest(data, remote, key);
      return;
    }
    const mapping = this.mappings.get(key);
    if (mapping === undefined) return;
    const now = clockSeconds();
    const slot = this.slotByAddress(key);
    const read = readEncryptedPacket(data, {
      key: mapping.receiveKey,
      protocolId: this.protocolId,
      allowed: FROM_CLIENT,
      ...(slot === null ? {} : { replay: slot.replay }),
    });
    if (!read.ok) return;
    mapping.lastAccess = now;
    const packet = read.packet;
    if (packet.type === 3) {
      this.processResponse(packet.challengeSequence, packet.challengeToken, remote, key, mapping);
      return;
    }
    if (slot === null) return;
    slot.lastReceive = now;
    if (packet.type === 6) {
      this.drop(slot, 'client_disconnect', false);
      return;
    }
    slot.confirmed = true;
    if (packet.type === 5) this.emit('payload', slot, packet.payload);
  }

  private processRequest(data: Uint8Array, remote: NetcodeAddress, key: string): void {
    const opened = openConnectionRequest(data, {
      privateKey: this.privateKey,
      protocolIds: [this.protocolId],
    });
    if (!opened.ok) {
      this.emit('ignored', opened.code);
      return;
    }
    const own = this.ownAddress;
    if (
      own === null ||
      !opened.token.serverAddresses.some((address) => addressesEqual(address, own))
    ) {
      this.emit('ignored', 'not_my_address');
      return;
    }
    if (this.slotByAddress(key) !== null || this.slotByClientId(opened.token.clientId) !== null) {
      this.emit('ignored', 'already_connected');
      return;
    }
    const now = clockSeconds();
    const secondsLeft = Number(opened.request.expireTimestamp) - unixSeconds();
    const tag = hex(opened.tag);
    const previous = this.tokenUses.get(tag);
    if (previous !== undefined && previous.address !== key) {
      this.emit('ignored', 'token_reused');
      return;
    }
    this.tokenUses.set(tag, { address: key, expireAt: now + secondsLeft });
    const { clientToServerKey, serverToClientKey, timeoutSeconds, clientId, userData } =
      opened.token;
    if (this.connectedClients.length >= this.maxClients) {
      this.sendGlobal({ type: 1 }, remote, serverToClientKey);
      this.emit('denied', key);
      return;
    }
    this.mappings.set(key, {
      sendKey: serverToClientKey,
      receiveKey: clientToServerKey,
      timeoutSeconds,
      expireAt: now + secondsLeft,
      lastAccess: now,
    });
    const challengeSequence = this.challengeSequence++;
    const challengeToken = encryptChallengeToken(
      { clientId, userData },
      challengeSequence,
      this.challengeKey,
    );
    this.sendGlobal({ type: 2, challengeSequence, challengeToken }, remote, serverToClientKey);
  }

  private processResponse(
    challengeSequence: bigint,
    sealed: Uint8Array,
    remote: NetcodeAddress,
    key: string,
    mapping: EncryptionMapping,
  ): void {
    const token = decryptChallengeToken(sealed, challengeSequence, this.challengeKey);
    if (token === null) {
      this.emit('ignored', 'bad_challenge');
      return;
    }
    // Resent responses from a client that already got in are expected; ignore them.
    if (this.slotByAddress(key) !== null || this.slotByClientId(token.clientId) !== null) return;
    const index = this.slots.indexOf(null);
    if (index < 0) {
      this.sendGlobal({ type: 1 }, remote, mapping.sendKey);
      this.emit('denied', key);
      return;
    }
    const now = clockSeconds();
    mapping.expireAt = Infinity;
    const slot: ClientSlot = {
      clientIndex: index,
      clientId: token.clientId,
      address: key,
      userData: token.userData,
      remote,
      mapping,
      replay: new ReplayProtection(),
      sequence: 0n,
      lastSend: now,
      lastReceive: now,
      confirmed: false,
    };
    this.slots[index] = slot;
    this.sendToClient(slot, { type: 4, clientIndex: index, maxClients: this.maxClients });
    this.emit('connect', slot);
  }

  private update(): void {
    const now = clockSeconds();
    for (const slot of this.slots) {
      if (slot === null) continue;
      if (slot.mapping.timeoutSeconds > 0 && slot.lastReceive + slot.mapping.timeoutSeconds < now) {
        this.drop(slot, 'timeout', false);
        continue;
      }
      if (slot.lastSend + SEND_INTERVAL <= now) {
        this.sendToClient(slot, {
          type: 4,
          clientIndex: slot.clientIndex,
          maxClients: this.maxClients,
        });
      }
    }
    for (const [key, mapping] of this.mappings) {
      const idle = mapping.timeoutSeconds > 0 && mapping.lastAccess + mapping.timeoutSeconds < now;
      if ((mapping.expireAt < now || idle) && this.slotByAddress(key) === null)
        this.mappings.delete(key);
    }
    for (const [tag, use] of this.tokenUses) if (use.expireAt < now) this.tokenUses.delete(tag);
  }

  private drop(slot: ClientSlot, reason: ServerDisconnectReason, notify: boolean): void {
    if (notify) {
      for (let i = 0; i < NUM_DISCONNECT_PACKETS; i++) this.sendToClient(slot, { type: 6 });
    }
    this.slots[slot.clientIndex] = null;
    this.mappings.delete(slot.address);
    this.emit('disconnect', slot, reason);
  }

  private sendToClient(slot: ClientSlot, packet: EncryptedPacket): void {
    const bytes = writeEncryptedPacket(
      packet,
      slot.sequence++,
      slot.mapping.sendKey,
      this.protocolId,
    );
    slot.lastSend = clockSeconds();
    this.send(bytes, slot.remote);
  }

  private sendGlobal(packet: EncryptedPacket, to: NetcodeAddress, key: Uint8Array): void {
    const bytes = writeEncryptedPacket(packet, this.globalSequence++, key, this.protocolId);
    this.send(bytes, to);
  }

  private send(bytes: Uint8Array, to: NetcodeAddress): void {
    if (this.socket === null) return;
    this.pending.send(this.socket, bytes, to.port, formatHost(to));
  }

  private slotByAddress(key: string): ClientSlot | null {
    for (const slot of this.slots) if (slot !== null && slot.address === key) return slot;
    return null;
  }

  private slotByClientId(clientId: bigint): ClientSlot | null {
    for (const slot of this.slots) if (slot !== null && slot.clientId === clientId) return slot;
    return null;
  }
}

function requireAddress(text: string): NetcodeAddress {
  const address = parseAddress(text);
  if (address === null) throw new RangeError(`netcode: bad address ${JSON.stringify(text)}`);
  return address;
}
