import { u16be } from '@gamemesh/core';
import { ipv6GroupsText } from '../../shared/ip-text.js';
import type { SkipReason } from '../errors.js';
import type { LinkPayload } from './link.js';

/**
 * IPv4 (RFC 791), IPv6 (RFC 8200) with extension headers, and UDP (RFC 768):
 * from the start of the IP packet to the UDP payload. Fragments are counted,
 * not reassembled: a non-first fragment has no UDP header, and reading its
 * first bytes as one would invent ports.
 */

export interface UdpPacket {
  readonly sourceAddress: string;
  readonly sourcePort: number;
  readonly destinationAddress: string;
  readonly destinationPort: number;
  /** A view into the frame: valid only until the reader moves on. */
  readonly payload: Uint8Array;
}

const PROTO_UDP = 17;
const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_FRAGMENT = 44;
const IPV6_AH = 51;
const IPV6_DESTINATION = 60;
const MAX_EXTENSION_HEADERS = 16;

/**
 * `cut` says the capture snaplen shortened this frame: bytes missing then
 * mean `truncated`, otherwise they mean a malformed packet.
 */
export function decodeUdp(
  frame: Uint8Array,
  link: LinkPayload,
  cut: boolean,
): UdpPacket | SkipReason {
  const start = link.offset;
  if (frame.length <= start) return cut ? 'truncated' : 'bad_ip';
  const version = frame[start]! >> 4;
  if (link.ip !== 'any' && link.ip !== version) return 'bad_ip';
  if (version === 4) return ipv4(frame, start, cut);
  if (version === 6) return ipv6(frame, start, cut);
  return 'bad_ip';
}

function ipv4(frame: Uint8Array, start: number, cut: boolean): UdpPacket | SkipReason {
  if (frame.length < start + 20) return cut ? 'truncated' : 'bad_ip';
  const headerLength = (frame[start]! & 0x0f) * 4;
  const totalLength = u16be(frame, start + 2);
  if (headerLength < 20 || totalLength < headerLength) return 'bad_ip';
  if (frame.length < start + headerLength) return cut ? 'truncated' : 'bad_ip';
  if (frame[start + 9] !== PROTO_UDP) return 'not_udp';
  const fragment = u16be(frame, start + 6);
  if ((fragment & 0x1fff) !== 0) return 'fragment_later';
  if ((fragment & 0x2000) !== 0) return 'fragment_first';
  return udp(
    frame,
    start + headerLength,
    totalLength - headerLength,
    cut,
    ipv4Address(frame, start + 12),
    ipv4Address(frame, start + 16),
  );
}

function ipv6(frame: Uint8Array, start: number, cut: boolean): UdpPacket | SkipReason {
  if (frame.length < start + 40) return cut ? 'truncated' : 'bad_ip';
  const payloadLength = u16be(frame, start + 4);
  // Zero means a jumbogram (RFC 2675), which UDP over loopback-sized MTUs never uses.
  if (payloadLength === 0) return 'bad_ip';
  const end = start + 40 + payloadLength;
  let next = frame[start + 6]!;
  let position = start + 40;
  for (let walked = 0; next !== PROTO_UDP; walked++) {
    if (walked === MAX_EXTENSION_HEADERS) return 'bad_ip';
    if (
      next !== IPV6_HOP_BY_HOP &&
      next !== IPV6_ROUTING &&
      next !== IPV6_DESTINATION &&
      next !== IPV6_AH &&
      next !== IPV6_FRAGMENT
    ) {
      return 'not_udp';
    }
    const headerBytes = next === IPV6_FRAGMENT ? 8 : 2;
    if (position + headerBytes > end) return 'bad_ip';
    if (position + headerBytes > frame.length) return cut ? 'truncated' : 'bad_ip';
    const following = frame[position]!;
    if (next === IPV6_FRAGMENT) {
      // Offset in 8-octet units in the top 13 bits, M flag in bit 0 (RFC 8200 §4.5).
      const field = u16be(frame, position + 2);
      if ((field & 0xfff8) !== 0) return 'fragment_later';
      if ((field & 1) !== 0) return following === PROTO_UDP ? 'fragment_first' : 'not_udp';
      position += 8;
    } else if (next === IPV6_AH) {
      position += (frame[position + 1]! + 2) * 4; // RFC 4302 §2.2: length in 4-octet units minus 2
    } else {
      position += (frame[position + 1]! + 1) * 8; // RFC 8200 §4.3-4.6: 8-octet units, first 8 excluded
    }
    next = following;
  }
  if (position > end) return 'bad_ip';
  return udp(
    frame,
    position,
    end - position,
    cut,
    ipv6Address(frame, start + 8),
    ipv6Address(frame, start + 24),
  );
}

function udp(
  frame: Uint8Array,
  start: number,
  ipPayloadLength: number,
  cut: boolean,
  sourceAddress: string,
  destinationAddress: string,
): UdpPacket | SkipReason {
  if (ipPayloadLength < 8) return 'bad_udp';
  if (frame.length < start + 8) return cut ? 'truncated' : 'bad_udp';
  const length = u16be(frame, start + 4);
  if (length < 8 || length > ipPayloadLength) return 'bad_udp';
  if (frame.length < start + length) return cut ? 'truncated' : 'bad_udp';
  return {
    sourceAddress,
    sourcePort: u16be(frame, start),
    destinationAddress,
    destinationPort: u16be(frame, start + 2),
    payload: frame.subarray(start + 8, start + length),
  };
}

export function ipv4Address(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/** RFC 5952 text form (see `ipv6GroupsText`), IPv4-mapped addresses as a dotted quad. */
export function ipv6Address(b: Uint8Array, o: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(u16be(b, o + i * 2));
  // IPv4-mapped addresses keep the dotted quad (RFC 5952 §5).
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${ipv4Address(b, o + 12)}`;
  }
  return ipv6GroupsText(groups);
}

/** `ip:port`, with IPv6 addresses in brackets. */
export function endpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
