import {
  type Datagram,
  type LifecycleEvent,
  NO_EVENTS,
  type SessionTracker,
  u16be,
} from '@gamemesh/core';
import { type EnetCommand, type ParseOptions, parseDatagram, readConnectFields } from './parse.js';
import { ACK_RECEIVED_SENT_TIME, COMMAND_FLAG_ACKNOWLEDGE, Command } from './protocol.js';

export interface EnetStats {
  readonly [name: string]: number | string | boolean | null;
  /** The session's connect ID (CONNECT / VERIFY_CONNECT), null until seen. */
  readonly connectId: number | null;
  /** Commands flagged ACKNOWLEDGE, i.e. ones the receiver must acknowledge. */
  readonly reliableCommands: number;
  readonly unreliableCommands: number;
  readonly acks: number;
  readonly pings: number;
  /** Reliable commands seen again with a number already seen on their channel. */
  readonly retransmissions: number;
  /** Latest round trip at the observer: a sentTime-stamped datagram to the ACK echoing it. */
  readonly rttMs: number | null;
  readonly rttSamples: number;
  /** Datagrams whose commands could not be walked (compressed ones included). */
  readonly unparsed: number;
}

/**
 * Recent (sentTime, arrival) pairs of one direction. ENet's ACKNOWLEDGE
 * echoes the header sentTime of the datagram that carried the acknowledged
 * command (protocol.c `enet_protocol_send_acknowledgements`), so the arrival
 * gap between that datagram and the echo is a round trip seen from the proxy.
 */
class SentTimeRing {
  private static readonly SIZE = 64;
  private readonly sentTimes = new Int32Array(SentTimeRing.SIZE).fill(-1);
  private readonly arrivals = new Float64Array(SentTimeRing.SIZE);
  private next = 0;

  remember(sentTime: number, at: number): void {
    this.sentTimes[this.next] = sentTime;
    this.arrivals[this.next] = at;
    this.next = (this.next + 1) % SentTimeRing.SIZE;
  }

  /** Arrival of the newest datagram stamped `sentTime`, or -1. */
  arrivalOf(sentTime: number): number {
    for (let i = 1; i <= SentTimeRing.SIZE; i++) {
      const slot = (this.next - i + SentTimeRing.SIZE) % SentTimeRing.SIZE;
      if (this.sentTimes[slot] === sentTime) return this.arrivals[slot]!;
    }
    return -1;
  }
}

/**
 * Which reliable sequence numbers of one channel and direction were seen:
 * the highest one plus a bitmap of the 32 below it. Numbers wrap at 2^16.
 */
class SequenceWindow {
  private highest = -1;
  private seen = 0;

  /** Records `sequence`; true when it was seen before (a retransmission). */
  record(sequence: number): boolean {
    if (this.highest === -1) {
      this.highest = sequence;
      this.seen = 1;
      return false;
    }
    const ahead = (sequence - this.highest) & 0xffff;
    if (ahead === 0) return true;
    if (ahead < 0x8000) {
      this.seen = ahead >= 32 ? 1 : ((this.seen << ahead) | 1) >>> 0;
      this.highest = sequence;
      return false;
    }
    const behind = 0x10000 - ahead;
    if (behind >= 32) return false;
    const bit = (1 << behind) >>> 0;
    const repeated = (this.seen & bit) !== 0;
    this.seen = (this.seen | bit) >>> 0;
    return repeated;
  }
}

export function createTracker(options: ParseOptions): SessionTracker<EnetStats> {
  let connectId: number | null = null;
  let opened = false;
  let closed = false;
  let reliableCommands = 0;
  let unreliableCommands = 0;
  let acks = 0;
  let pings = 0;
  let retransmissions = 0;
  let rttMs: number | null = null;
  let rttSamples = 0;
  let unparsed = 0;
  const sentTimes = { forward: new SentTimeRing(), reverse: new SentTimeRing() };
  // Keyed by direction (bit 8) and channel: at most 2 x 256 windows.
  const windows = new Map<number, SequenceWindow>();

  const countReliable = (datagram: Datagram, command: EnetCommand): void => {
    reliableCommands++;
    const id = (datagram.direction === 'forward' ? 0 : 0x100) | command.channel;
    let window = windows.get(id);
    if (window === undefined) {
      window = new SequenceWindow();
      windows.set(id, window);
    }
    if (window.record(command.reliableSequence)) retransmissions++;
  };

  const sampleRtt = (datagram: Datagram, command: EnetCommand): void => {
    const echoed = u16be(datagram.data, command.offset + ACK_RECEIVED_SENT_TIME);
    const ring = datagram.direction === 'forward' ? sentTimes.reverse : sentTimes.forward;
    const sentAt = ring.arrivalOf(echoed);
    if (sentAt < 0 || datagram.at < sentAt) return;
    rttMs = datagram.at - sentAt;
    rttSamples++;
  };

  const observe = (datagram: Datagram): readonly LifecycleEvent[] => {
    const parsed = parseDatagram(datagram.data, options);
    if (!parsed.ok) {
      unparsed++;
      return NO_EVENTS;
    }
    if (parsed.header.sentTime !== null) {
      sentTimes[datagram.direction].remember(parsed.header.sentTime, datagram.at);
    }
    let events: LifecycleEvent[] | null = null;
    for (const command of parsed.commands) {
      if ((command.byte & COMMAND_FLAG_ACKNOWLEDGE) !== 0) countReliable(datagram, command);
      switch (command.number) {
        case Command.ACKNOWLEDGE:
          acks++;
          sampleRtt(datagram, command);
          break;
        case Command.PING:
          pings++;
          break;
        case Command.SEND_UNRELIABLE:
        case Command.SEND_UNSEQUENCED:
        case Command.SEND_UNRELIABLE_FRAGMENT:
          unreliableCommands++;
          break;
        case Command.CONNECT:
        case Command.VERIFY_CONNECT: {
          const fields = readConnectFields(datagram.data, command);
          connectId ??= fields.connectId;
          // Opened on CONNECT; on VERIFY_CONNECT only when CONNECT went unseen.
          if (opened) break;
          opened = true;
          events ??= [];
          events.push({
            type: 'opened',
            key: String(connectId),
            at: datagram.at,
            detail: {
              connectID: connectId,
              mtu: fields.mtu,
              channelCount: fields.channelCount,
              outgoingPeerID: fields.outgoingPeerId,
              openedBy: command.number === Command.CONNECT ? 'connect' : 'verify_connect',
            },
          });
          break;
        }
        case Command.DISCONNECT:
          // DISCONNECT is retransmitted until acknowledged; the session ends once.
          if (closed) break;
          closed = true;
          events ??= [];
          events.push({
            type: 'closed',
            key: connectId === null ? null : String(connectId),
            at: datagram.at,
            reason: 'protocol_disconnect',
          });
          break;
        default:
          break;
      }
    }
    return events ?? NO_EVENTS;
  };

  return {
    observe,
    key: () => (connectId === null ? null : String(connectId)),
    stats: () => ({
      connectId,
      reliableCommands,
      unreliableCommands,
      acks,
      pings,
      retransmissions,
      rttMs,
      rttSamples,
      unparsed,
    }),
  };
}
