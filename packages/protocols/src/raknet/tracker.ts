import {
  type Datagram,
  type DetailValue,
  type Direction,
  type LifecycleEvent,
  NO_EVENTS,
  type ProtocolStats,
  type SessionTracker,
  u24le,
} from '@gamemesh/core';
import { MESSAGE_ID } from './constants.js';
import { connectedKind, sequenceDistance, walkAckRecords, walkDataFrames } from './datagram.js';
import { readConnectedMessage } from './messages.js';
import { DENIAL_IDS, type OfflineMessage, parseOfflineMessage } from './offline.js';

/**
 * Per-session RakNet state. Lifecycle:
 * - `opened` at the first OPEN_CONNECTION_REQUEST_2: it is the request that
 *   commits the connection and names the client GUID, and by then REPLY_1
 *   has given the server GUID and MTU. REQUEST_1 alone is a repeatable MTU
 *   probe (sent several times per size, descending) and opens nothing,
 *   unless the server refuses it, see below. A flow picked up mid-session
 *   opens on its first valid data datagram.
 * - `closed` / `protocol_disconnect` on ID_DISCONNECTION_NOTIFICATION inside
 *   a frame, either direction (peers resend it until ACKed; one close).
 * - `closed` / `denied` on ALREADY_CONNECTED, NO_FREE_INCOMING_CONNECTIONS,
 *   CONNECTION_BANNED, INCOMPATIBLE_PROTOCOL_VERSION or IP_RECENTLY_CONNECTED;
 *   a refusal before any open is reported as opened-then-denied so every
 *   refused attempt is counted as a session with a close reason.
 *
 * Loss: `ackCount` / `nakCount` count datagram sequence numbers covered by
 * ACK / NAK range records (a range min..max counts max-min+1), both
 * directions. RakNet resends NAKed frames under new sequence numbers, so a
 * NAKed number is never ACKed later and `lossRatio` = nak / (ack + nak).
 *
 * RTT: a CONNECTED_PONG echoes its ping's time; the arrival difference at
 * the observer is one leg (client pings: observer-server-observer; server
 * pings: observer-client-observer). `rttMs` is the sum of the latest of each
 * leg, i.e. the client-to-server round trip through the observer; with one
 * leg measured so far it is that leg (a lower bound).
 */

export interface RakNetStats extends ProtocolStats {
  readonly clientGuid: string | null;
  readonly serverGuid: string | null;
  readonly mtu: number | null;
  readonly protocolVersion: number | null;
  readonly hasSecurity: boolean | null;
  readonly handshakeSeen: boolean;
  /** Data datagrams client to server / server to client. */
  readonly forwardDatagrams: number;
  readonly reverseDatagrams: number;
  /** Datagram sequence numbers skipped per direction and not seen later (u24, wrap-safe). */
  readonly forwardSequenceGaps: number;
  readonly reverseSequenceGaps: number;
  readonly ackDatagrams: number;
  readonly nakDatagrams: number;
  readonly ackCount: number;
  readonly nakCount: number;
  readonly lossRatio: number | null;
  readonly rttMs: number | null;
  readonly upstreamRttMs: number | null;
  readonly downstreamRttMs: number | null;
  readonly offlineMessages: number;
  /** Datagrams that are neither a valid offline message nor a valid connected datagram. */
  readonly malformedDatagrams: number;
}

interface SequenceState {
  datagrams: number;
  highest: number;
  gaps: number;
}

interface PendingPing {
  readonly high: number;
  readonly low: number;
  readonly at: number;
}

// One outstanding ping per direction, the newest: pings are periodic and a
// pong answers its ping within one round trip, so a lost pong costs one
// sample, not the next ones. Constant memory keeps the native twin
// (native/src/trackers/raknet.c) inside its inline state.
const PENDING_PINGS = 1;
// A sequence number this far behind the highest one is a late arrival, not a jump ahead.
const HALF_SEQUENCE_SPACE = 0x80_0000;

export function createRakNetTracker(): SessionTracker<RakNetStats> {
  return new RakNetTracker();
}

class RakNetTracker implements SessionTracker<RakNetStats> {
  private clientGuid: string | null = null;
  private serverGuid: string | null = null;
  private mtu: number | null = null;
  private protocolVersion: number | null = null;
  private hasSecurity: boolean | null = null;
  private handshakeSeen = false;
  private opened = false;
  private closed = false;
  private disconnectSeen = false;
  private readonly sequences: Record<Direction, SequenceState> = {
    forward: { datagrams: 0, highest: -1, gaps: 0 },
    reverse: { datagrams: 0, highest: -1, gaps: 0 },
  };
  private ackDatagrams = 0;
  private nakDatagrams = 0;
  private ackCount = 0;
  private nakCount = 0;
  private readonly pendingPings: Record<Direction, PendingPing[]> = { forward: [], reverse: [] };
  private upstreamRttMs: number | null = null;
  private downstreamRttMs: number | null = null;
  private offlineMessages = 0;
  private malformedDatagrams = 0;
  private events: LifecycleEvent[] = [];

  observe(datagram: Datagram): readonly LifecycleEvent[] {
    const b = datagram.data;
    const kind = b.length > 0 ? connectedKind(b[0]!) : null;
    if (kind === 'data') this.observeData(datagram);
    else if (kind === 'ack' || kind === 'nak') this.observeAck(b, kind);
    else this.observeOffline(datagram);
    if (this.events.length === 0) return NO_EVENTS;
    const events = this.events;
    this.events = [];
    return events;
  }

  key(): string | null {
    return this.clientGuid;
  }

  stats(): RakNetStats {
    const acked = this.ackCount + this.nakCount;
    const legs = this.upstreamRttMs !== null || this.downstreamRttMs !== null;
    return {
      ...this.handshake(),
      forwardDatagrams: this.sequences.forward.datagrams,
      reverseDatagrams: this.sequences.reverse.datagrams,
      forwardSequenceGaps: this.sequences.forward.gaps,
      reverseSequenceGaps: this.sequences.reverse.gaps,
      ackDatagrams: this.ackDatagrams,
      nakDatagrams: this.nakDatagrams,
      ackCount: this.ackCount,
      nakCount: this.nakCount,
      lossRatio: acked === 0 ? null : this.nakCount / acked,
      rttMs: legs ? (this.upstreamRttMs ?? 0) + (this.downstreamRttMs ?? 0) : null,
      upstreamRttMs: this.upstreamRttMs,
      downstreamRttMs: this.downstreamRttMs,
      offlineMessages: this.offlineMessages,
      malformedDatagrams: this.malformedDatagrams,
    };
  }

  /** What the offline handshake revealed: the opened event's detail, and the first stats. */
  private handshake() {
    return {
      clientGuid: this.clientGuid,
      serverGuid: this.serverGuid,
      mtu: this.mtu,
      protocolVersion: this.protocolVersion,
      hasSecurity: this.hasSecurity,
      handshakeSeen: this.handshakeSeen,
    };
  }

  private observeOffline(datagram: Datagram): void {
    const parsed = parseOfflineMessage(datagram.data);
    if (!parsed.ok) {
      this.malformedDatagrams++;
      return;
    }
    this.offlineMessages++;
    const message = parsed.message;
    this.learn(message);
    if (message.id === MESSAGE_ID.OPEN_CONNECTION_REQUEST_2) {
      this.handshakeSeen = true;
      this.open(datagram.at);
    } else if (message.id === MESSAGE_ID.OPEN_CONNECTION_REQUEST_1) {
      this.handshakeSeen = true;
    } else if (DENIAL_IDS.has(message.id)) {
      this.open(datagram.at);
      this.close(datagram.at, 'denied');
    }
  }

  private learn(message: OfflineMessage): void {
    if (message.clientGuid !== null) this.clientGuid = message.clientGuid.toString();
    if (message.serverGuid !== null) this.serverGuid = message.serverGuid.toString();
    if (message.mtu !== null) this.mtu = message.mtu;
    if (message.hasSecurity !== null) this.hasSecurity = message.hasSecurity;
    // INCOMPATIBLE_PROTOCOL_VERSION carries the server's number; the session's is the client's.
    if (message.protocolVersion !== null && message.id === MESSAGE_ID.OPEN_CONNECTION_REQUEST_1) {
      this.protocolVersion = message.protocolVersion;
    }
  }

  private observeAck(b: Uint8Array, kind: 'ack' | 'nak'): void {
    const covered = walkAckRecords(b, null);
    if (typeof covered === 'string') {
      this.malformedDatagrams++;
      return;
    }
    if (kind === 'ack') {
      this.ackDatagrams++;
      this.ackCount += covered;
    } else {
      this.nakDatagrams++;
      this.nakCount += covered;
    }
  }

  private observeData(datagram: Datagram): void {
    const b = datagram.data;
    // Validate before acting on any frame: a datagram the RakNet reader
    // would reject as garbage must not close or re-key the session.
    if (typeof walkDataFrames(b, null) === 'string') {
      this.malformedDatagrams++;
      return;
    }
    this.countSequence(this.sequences[datagram.direction], u24le(b, 1));
    walkDataFrames(b, (messageAt, length) => {
      if (messageAt >= 0) this.observeMessage(datagram, messageAt, length);
    });
    this.open(datagram.at);
    if (this.disconnectSeen) this.close(datagram.at, 'protocol_disconnect');
  }

  private observeMessage(datagram: Datagram, offset: number, length: number): void {
    const message = readConnectedMessage(datagram.data, offset, length);
    if (message === null) return;
    switch (message.name) {
      case 'connection-request':
        this.clientGuid ??= message.clientGuid.toString();
        break;
      case 'connected-ping': {
        const pending = this.pendingPings[datagram.direction];
        if (pending.length === PENDING_PINGS) pending.shift();
        pending.push({ high: message.timeHigh, low: message.timeLow, at: datagram.at });
        break;
      }
      case 'connected-pong':
        this.matchPong(datagram, message.echoHigh, message.echoLow);
        break;
      case 'disconnection-notification':
        this.disconnectSeen = true;
        break;
      default:
        break;
    }
  }

  private matchPong(pong: Datagram, high: number, low: number): void {
    // The ping travelled the other way.
    const pingDirection: Direction = pong.direction === 'forward' ? 'reverse' : 'forward';
    const pending = this.pendingPings[pingDirection];
    const index = pending.findIndex((ping) => ping.high === high && ping.low === low);
    if (index < 0) return;
    const sample = Math.max(0, pong.at - pending[index]!.at);
    pending.splice(index, 1);
    if (pingDirection === 'forward') this.upstreamRttMs = sample;
    else this.downstreamRttMs = sample;
  }

  private countSequence(state: SequenceState, sequence: number): void {
    state.datagrams++;
    if (state.highest < 0) {
      state.highest = sequence;
      return;
    }
    const ahead = sequenceDistance(state.highest, sequence);
    if (ahead === 0) return;
    if (ahead < HALF_SEQUENCE_SPACE) {
      state.gaps += ahead - 1;
      state.highest = sequence;
    } else if (state.gaps > 0) {
      // A late arrival fills a gap counted earlier.
      state.gaps--;
    }
  }

  private open(at: number): void {
    if (this.opened) return;
    this.opened = true;
    const detail: Record<string, DetailValue> = this.handshake();
    this.events.push({ type: 'opened', key: this.clientGuid, at, detail });
  }

  private close(at: number, reason: 'protocol_disconnect' | 'denied'): void {
    if (this.closed) return;
    this.closed = true;
    this.events.push({ type: 'closed', key: this.clientGuid, at, reason });
  }
}
