import {
  type Datagram,
  type DetailValue,
  type Direction,
  hex,
  type LifecycleEvent,
  NO_EVENTS,
  type ProtocolStats,
  type SessionTracker,
  u64le,
} from '@gamemesh/core';
import { formatAddress } from './address.js';
import { type EncryptedPacketType, PACKET_TYPE_NAMES, REQUEST_OFFSET } from './constants.js';
import { openConnectionRequest } from './open-request.js';
import { readEncryptedPacket } from './packets.js';
import {
  encryptedShape,
  packetType,
  requestVersion,
  sequenceHigh,
  sequenceLow,
  sequenceSpace,
} from './shape.js';

/**
 * Per-session netcode state. Without the private key it reads what the
 * wire shows in clear (request fields, prefixes, sequence numbers); with it,
 * it opens the connect token and authenticates later packets with the
 * session keys, so a spoofed disconnect cannot end a session.
 */

export interface NetcodeTrackerOptions {
  readonly privateKey: Uint8Array | null;
}

const ALL_TYPES: ReadonlySet<EncryptedPacketType> = new Set([1, 2, 3, 4, 5, 6]);
/** A jump larger than this is not counted as loss (corruption or a spoofed packet, not 5000 lost packets). */
const MAX_COUNTED_GAP = 1024;

/**
 * Session-space sequences are u64 on the wire; the highest one is kept as two
 * 32-bit halves so comparisons are exact over the whole range (the native
 * tracker in native/src/trackers/netcode.c keeps a uint64_t and must agree).
 */
interface DirectionState {
  readonly byType: number[];
  hasHighest: boolean;
  highestHigh: number;
  highestLow: number;
  received: number;
  gaps: number;
  malformed: number;
  authFailures: number;
}

function directionState(): DirectionState {
  return {
    byType: [0, 0, 0, 0, 0, 0, 0],
    hasHighest: false,
    highestHigh: 0,
    highestLow: 0,
    received: 0,
    gaps: 0,
    malformed: 0,
    authFailures: 0,
  };
}

export class NetcodeTracker implements SessionTracker {
  private readonly forward = directionState();
  private readonly reverse = directionState();
  private opened = false;
  private closed = false;
  private tag: string | null = null;
  private protocolId: bigint | null = null;
  private tokenValid: boolean | null = null;
  private clientId: string | null = null;
  private clientIndex: number | null = null;
  private maxClients: number | null = null;
  private keys: { clientToServer: Uint8Array; serverToClient: Uint8Array } | null = null;

  constructor(private readonly options: NetcodeTrackerOptions) {}

  observe(datagram: Datagram): readonly LifecycleEvent[] {
    const b = datagram.data;
    const side = datagram.direction === 'forward' ? this.forward : this.reverse;
    const version = datagram.direction === 'forward' ? requestVersion(b) : null;
    if (version !== null) {
      side.byType[0]!++;
      return this.onRequest(datagram, version);
    }
    if (encryptedShape(b) !== 'ok') {
      side.malformed++;
      return NO_EVENTS;
    }
    const type = packetType(b);
    if (this.keys !== null && !this.authenticates(b, datagram.direction, type)) {
      side.authFailures++;
      return NO_EVENTS;
    }
    side.byType[type]!++;
    if (sequenceSpace(b) === 0) this.countSequence(side, sequenceHigh(b), sequenceLow(b));
    const events: LifecycleEvent[] = [];
    if (!this.opened) {
      // Picked up mid-session: the session exists, its key is not on the wire.
      this.opened = true;
      events.push({
        type: 'opened',
        key: null,
        at: datagram.at,
        detail: { version: 'unknown', pickedUp: true },
      });
    }
    if (!this.closed && type === 6) {
      this.closed = true;
      events.push({
        type: 'closed',
        key: this.tag,
        at: datagram.at,
        reason: 'protocol_disconnect',
      });
    } else if (!this.closed && type === 1 && datagram.direction === 'reverse') {
      this.closed = true;
      events.push({ type: 'closed', key: this.tag, at: datagram.at, reason: 'denied' });
    }
    return events.length === 0 ? NO_EVENTS : events;
  }

  key(): string | null {
    return this.tag;
  }

  stats(): ProtocolStats {
    const f = this.forward;
    const r = this.reverse;
    const stats: Record<string, number | string | boolean | null> = {};
    for (let type = 0; type < PACKET_TYPE_NAMES.length; type++) {
      const name = PACKET_TYPE_NAMES[type]!;
      const title = name[0]!.toUpperCase() + name.slice(1);
      stats[`forward${title}`] = f.byType[type]!;
      stats[`reverse${title}`] = r.byType[type]!;
    }
    const lossOf = (d: DirectionState): number | null =>
      d.received + d.gaps === 0 ? null : d.gaps / (d.received + d.gaps);
    Object.assign(stats, {
      requests: f.byType[0]!,
      keepAlives: f.byType[4]! + r.byType[4]!,
      payloads: f.byType[5]! + r.byType[5]!,
      disconnects: f.byType[6]! + r.byType[6]!,
      sequenceGapsForward: f.gaps,
      sequenceGapsReverse: r.gaps,
      lossRatioForward: lossOf(f),
      lossRatioReverse: lossOf(r),
      lossRatio:
        f.received + r.received + f.gaps + r.gaps === 0
          ? null
          : (f.gaps + r.gaps) / (f.received + r.received + f.gaps + r.gaps),
      malformed: f.malformed + r.malformed,
      authFailures: f.authFailures + r.authFailures,
      protocolId: this.protocolId === null ? null : this.protocolId.toString(),
      tokenValid: this.tokenValid,
      clientId: this.clientId,
      clientIndex: this.clientIndex,
      maxClients: this.maxClients,
    });
    return stats;
  }

  private onRequest(datagram: Datagram, version: '1.02' | '1.01'): readonly LifecycleEvent[] {
    if (this.opened) return NO_EVENTS;
    this.opened = true;
    const b = datagram.data;
    this.tag = hex(b, b.length - 16, 16);
    this.protocolId = u64le(b, REQUEST_OFFSET.protocolId);
    const detail: Record<string, DetailValue> = {
      version,
      protocolId: this.protocolId.toString(),
      expireTimestamp: Number(u64le(b, REQUEST_OFFSET.expireTimestamp)),
      tag: this.tag,
    };
    const privateKey = this.options.privateKey;
    // 1.01 tokens are sealed differently (ChaCha20 with a u64 sequence nonce); only 1.02 is opened.
    if (privateKey !== null && version === '1.02') {
      const opened = openConnectionRequest(b, { privateKey, now: datagram.at / 1000 });
      this.tokenValid = opened.ok;
      detail.tokenValid = opened.ok;
      if (opened.ok) {
        const token = opened.token;
        this.clientId = token.clientId.toString();
        this.keys = {
          clientToServer: token.clientToServerKey,
          serverToClient: token.serverToClientKey,
        };
        detail.clientId = this.clientId;
        detail.timeoutSeconds = token.timeoutSeconds;
        detail.serverAddresses = token.serverAddresses.map(formatAddress).join(',');
        detail.userData = hex(token.userData);
      } else {
        detail.tokenError = opened.code;
      }
    }
    return [{ type: 'opened', key: this.tag, at: datagram.at, detail }];
  }

  private authenticates(b: Uint8Array, direction: Direction, type: number): boolean {
    const keys = this.keys;
    if (keys === null || this.protocolId === null) return true;
    const read = readEncryptedPacket(b, {
      key: direction === 'forward' ? keys.clientToServer : keys.serverToClient,
      protocolId: this.protocolId,
      allowed: ALL_TYPES,
    });
    if (!read.ok) return false;
    if (type === 4 && direction === 'reverse' && read.packet.type === 4) {
      this.clientIndex = read.packet.clientIndex;
      this.maxClients = read.packet.maxClients;
    }
    return true;
  }

  private countSequence(side: DirectionState, high: number, low: number): void {
    side.received++;
    if (!side.hasHighest) {
      side.hasHighest = true;
      side.highestHigh = high;
      side.highestLow = low;
      return;
    }
    // sequence - highest: exact below 2^53 and of the right sign beyond, which is all the tests below need.
    const ahead = (high - side.highestHigh) * 4294967296 + (low - side.highestLow);
    if (ahead > 1 && ahead - 1 <= MAX_COUNTED_GAP) side.gaps += ahead - 1;
    // A late arrival fills a hole counted earlier (UDP reordering, not loss).
    if (ahead < 0 && side.gaps > 0) side.gaps--;
    if (ahead > 0) {
      side.highestHigh = high;
      side.highestLow = low;
    }
  }
}
