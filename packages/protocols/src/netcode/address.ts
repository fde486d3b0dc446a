import { isIPv4, isIPv6 } from 'node:net';
import { u16le } from '@gamemesh/core';
import { ipv6GroupsText } from '../shared/ip-text.js';
import { writeU16le } from './wire.js';

/**
 * Server addresses as netcode encodes them in connect tokens (netcode.c
 * netcode_write_connect_token_private): u8 type (1 = IPv4, 2 = IPv6), then
 * 4 bytes or 8 u16 LE groups, then u16 LE port.
 */

export const ADDRESS_IPV4 = 1;
export const ADDRESS_IPV6 = 2;

export interface NetcodeAddress {
  readonly type: typeof ADDRESS_IPV4 | typeof ADDRESS_IPV6;
  /** 4 octets (IPv4) or 8 16-bit groups (IPv6), most significant first. */
  readonly parts: readonly number[];
  readonly port: number;
}

export const ADDRESS_IPV4_BYTES = 1 + 4 + 2;
export const ADDRESS_IPV6_BYTES = 1 + 16 + 2;

export function encodedAddressLength(address: NetcodeAddress): number {
  return address.type === ADDRESS_IPV4 ? ADDRESS_IPV4_BYTES : ADDRESS_IPV6_BYTES;
}

/** Parses `a.b.c.d:port` or `[v6]:port`; null when it is not one. */
export function parseAddress(text: string): NetcodeAddress | null {
  const bracketed = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text);
  if (bracketed !== null) return fromHostPort(bracketed[1]!, Number(bracketed[2]));
  const plain = /^([^:]+):(\d{1,5})$/.exec(text);
  if (plain !== null) return fromHostPort(plain[1]!, Number(plain[2]));
  return null;
}

/** Builds an address from a host string (IPv4 or IPv6 literal, as node:dgram reports it) and a port. */
export function fromHostPort(host: string, port: number): NetcodeAddress | null {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) return null;
  if (isIPv4(host)) return { type: ADDRESS_IPV4, parts: host.split('.').map(Number), port };
  const bare = host.replace(/%.*$/, '');
  if (!isIPv6(bare)) return null;
  const groups = expandIpv6(bare);
  return groups === null ? null : { type: ADDRESS_IPV6, parts: groups, port };
}

function expandIpv6(host: string): number[] | null {
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  let text = host;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4 !== null) {
    const o = v4[1]!.split('.').map(Number);
    text = `${text.slice(0, v4.index)}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return null;
  const groups = [
    ...left,
    ...new Array<string>(tail === undefined ? 0 : missing).fill('0'),
    ...right,
  ];
  return groups.map((g) => Number.parseInt(g, 16));
}

export function formatAddress(address: NetcodeAddress): string {
  if (address.type === ADDRESS_IPV4) return `${address.parts.join('.')}:${address.port}`;
  return `[${ipv6GroupsText(address.parts)}]:${address.port}`;
}

/** The host part alone, in the form node:dgram's `send` accepts. */
export function formatHost(address: NetcodeAddress): string {
  return address.type === ADDRESS_IPV4 ? address.parts.join('.') : ipv6GroupsText(address.parts);
}

export function addressesEqual(a: NetcodeAddress, b: NetcodeAddress): boolean {
  if (a.type !== b.type || a.port !== b.port || a.parts.length !== b.parts.length) return false;
  for (let i = 0; i < a.parts.length; i++) if (a.parts[i] !== b.parts[i]) return false;
  return true;
}

/** Writes at `offset`; returns the offset after the address. */
export function writeAddress(b: Uint8Array, offset: number, address: NetcodeAddress): number {
  let o = offset;
  b[o++] = address.type;
  if (address.type === ADDRESS_IPV4) {
    for (const octet of address.parts) b[o++] = octet;
  } else {
    for (const group of address.parts) {
      writeU16le(b, o, group);
      o += 2;
    }
  }
  writeU16le(b, o, address.port);
  return o + 2;
}

export interface ReadAddress {
  readonly address: NetcodeAddress;
  readonly next: number;
}

/** Reads at `offset` without reading past `end`; null on an unknown type or truncation. */
export function readAddress(b: Uint8Array, offset: number, end: number): ReadAddress | null {
  if (offset >= end) return null;
  const type = b[offset];
  if (type === ADDRESS_IPV4) {
    if (offset + ADDRESS_IPV4_BYTES > end) return null;
    const parts = [b[offset + 1]!, b[offset + 2]!, b[offset + 3]!, b[offset + 4]!];
    return {
      address: { type, parts, port: u16le(b, offset + 5) },
      next: offset + ADDRESS_IPV4_BYTES,
    };
  }
  if (type === ADDRESS_IPV6) {
    if (offset + ADDRESS_IPV6_BYTES > end) return null;
    const parts: number[] = [];
    for (let i = 0; i < 8; i++) parts.push(u16le(b, offset + 1 + 2 * i));
    return {
      address: { type, parts, port: u16le(b, offset + 17) },
      next: offset + ADDRESS_IPV6_BYTES,
    };
  }
  return null;
}
