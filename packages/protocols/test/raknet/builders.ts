import type { Datagram, Direction } from '@gamemesh/core';
import { OFFLINE_MAGIC } from '../../src/raknet/index.js';

/**
 * Byte builders for RakNet layouts, written from PROTOCOLS.md §1.4/§1.5
 * independently of the parsers, for edge cases real peers never produce.
 */

export function bytes(...parts: (number | readonly number[] | Uint8Array)[]): Uint8Array {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === 'number') out.push(part);
    else out.push(...part);
  }
  return Uint8Array.from(out);
}

export const magic = (): Uint8Array => OFFLINE_MAGIC.slice();

export function u16be(value: number): number[] {
  return [(value >>> 8) & 0xff, value & 0xff];
}

export function u24le(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff];
}

export function u32be(value: number): number[] {
  return [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

export function u64be(value: bigint): number[] {
  const out: number[] = [];
  for (let shift = 56n; shift >= 0n; shift -= 8n) out.push(Number((value >> shift) & 0xffn));
  return out;
}

export const IPV4 = [4, 0x80, 0xff, 0xff, 0xfe, 0x4a, 0x38]; // ~127.0.0.1, port 19000
export const IPV6 = [6, ...new Array<number>(28).fill(0)];

export const ping = (guid: bigint): Uint8Array => bytes(0x01, u64be(1234n), magic(), u64be(guid));

export const request1 = (protocol: number, payloadLength: number): Uint8Array => {
  const out = new Uint8Array(payloadLength);
  out.set(bytes(0x05, magic(), protocol));
  return out;
};

export const reply1 = (serverGuid: bigint, mtu: number, cookie: number | null): Uint8Array =>
  cookie === null
    ? bytes(0x06, magic(), u64be(serverGuid), 0, u16be(mtu))
    : bytes(0x06, magic(), u64be(serverGuid), 1, u32be(cookie), u16be(mtu));

export const request2 = (
  clientGuid: bigint,
  mtu: number,
  options: { cookie?: number; address?: readonly number[] } = {},
): Uint8Array =>
  bytes(
    0x07,
    magic(),
    options.cookie === undefined ? [] : [...u32be(options.cookie), 0],
    options.address ?? IPV4,
    u16be(mtu),
    u64be(clientGuid),
  );

export const reply2 = (
  serverGuid: bigint,
  mtu: number,
  address: readonly number[] = IPV4,
): Uint8Array => bytes(0x08, magic(), u64be(serverGuid), address, u16be(mtu), 0);

export interface FrameSpec {
  readonly reliability?: number;
  readonly payload: readonly number[] | Uint8Array;
  readonly channel?: number;
  readonly split?: { readonly count: number; readonly id: number; readonly index: number };
  /** Overrides the bit length field. */
  readonly bits?: number;
  /** Extra flag bits (for padding-bit tests). */
  readonly extraFlags?: number;
}

export function frame(spec: FrameSpec): number[] {
  const reliability = spec.reliability ?? 0;
  const out: number[] = [
    (reliability << 5) | (spec.split === undefined ? 0 : 0x10) | (spec.extraFlags ?? 0),
  ];
  out.push(...u16be(spec.bits ?? spec.payload.length * 8));
  if (reliability === 2 || reliability === 3 || reliability === 4) out.push(...u24le(7));
  if (reliability === 1 || reliability === 4) out.push(...u24le(3));
  if (reliability === 1 || reliability === 3 || reliability === 4)
    out.push(...u24le(5), spec.channel ?? 0);
  if (spec.split !== undefined) {
    out.push(...u32be(spec.split.count), ...u16be(spec.split.id), ...u32be(spec.split.index));
  }
  out.push(...spec.payload);
  return out;
}

export function data(sequence: number, ...frames: number[][]): Uint8Array {
  return bytes(0x84, u24le(sequence), ...frames);
}

/** ACK (0xC0) or NAK (0xA0) with ranges; a single-number range is written as a single record. */
export function ackNak(
  first: 0xc0 | 0xa0,
  ranges: readonly (readonly [number, number])[],
): Uint8Array {
  const out: number[] = [first, ...u16be(ranges.length)];
  for (const [min, max] of ranges) {
    if (min === max) out.push(1, ...u24le(min));
    else out.push(0, ...u24le(min), ...u24le(max));
  }
  return Uint8Array.from(out);
}

export function datagram(data: Uint8Array, direction: Direction = 'forward', at = 1000): Datagram {
  return { data, direction, at };
}
