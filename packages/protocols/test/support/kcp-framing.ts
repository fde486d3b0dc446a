import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { readLe32 } from './bytes.js';

/**
 * Encoders for the framings kcp-go and kcp2k put around KCP segments. No
 * kcp-go or kcp2k peer exists on npm, so tests run REAL node-kcp (ikcp.c)
 * endpoints and wrap each datagram they emit exactly as the reference sources
 * lay it out (PROTOCOLS.md §2.2, §2.3):
 *   kcp-go fec.go `encode`/`sealData`/`sealParity`, sess.go crypt header
 *   (nonce[16] | crc32 LE | ...), kcp2k KcpPeer.cs `RawSendReliable` /
 *   `SendUnreliable`. The receiving side unwraps before `ikcp_input`.
 * The CRC is node:zlib's, independent of gamemesh's own table-driven one.
 * Parity shards carry XOR parity here instead of kcp-go's Reed-Solomon rows:
 * their bytes are opaque to gamemesh either way; header and length are exact.
 */

export type Side = 'client' | 'server';

/** How a peer frames what its KCP emits, and unframes what it receives. */
export interface PeerFraming {
  /** Datagrams to put on the wire for one KCP output (FEC may add a parity shard). */
  wrap(kcp: Uint8Array, side: Side): Uint8Array[];
  /** The KCP bytes inside a received datagram, or null when it carries none. */
  unwrap(datagram: Uint8Array, side: Side): Uint8Array | null;
}

function le32(out: Uint8Array, offset: number, value: number): void {
  out[offset] = value & 0xff;
  out[offset + 1] = (value >>> 8) & 0xff;
  out[offset + 2] = (value >>> 16) & 0xff;
  out[offset + 3] = (value >>> 24) & 0xff;
}

function le16(out: Uint8Array, offset: number, value: number): void {
  out[offset] = value & 0xff;
  out[offset + 1] = (value >>> 8) & 0xff;
}

/** fec.go: `| seqid u32 | 0x00F1 u16 | size u16 = len(kcp)+2 | kcp |`. */
export function fecDataShard(seqid: number, kcp: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + kcp.length);
  le32(out, 0, seqid);
  le16(out, 4, 0xf1);
  le16(out, 6, kcp.length + 2);
  out.set(kcp, 8);
  return out;
}

/** fec.go sealParity: `| seqid | 0x00F2 | parity over the shards' [size|kcp] |`, as long as the longest shard. */
export function fecParityShard(seqid: number, dataShards: readonly Uint8Array[]): Uint8Array {
  const length = Math.max(...dataShards.map((shard) => shard.length));
  const out = new Uint8Array(length);
  le32(out, 0, seqid);
  le16(out, 4, 0xf2);
  for (const shard of dataShards) {
    for (let i = 6; i < shard.length; i++) out[i] = out[i]! ^ shard[i]!;
  }
  return out;
}

/** sess.go with NoneBlockCrypt: `| nonce[16] | crc32-ieee(inner) u32 LE | inner |`, not encrypted. */
export function cryptNoneWrap(inner: Uint8Array, nonce: Uint8Array = randomBytes(16)): Uint8Array {
  const out = new Uint8Array(20 + inner.length);
  out.set(nonce.subarray(0, 16), 0);
  le32(out, 16, crc32(inner));
  out.set(inner, 20);
  return out;
}

/** KcpPeer.cs RawSendReliable: `| 1 | cookie u32 LE | kcp |`. */
export function kcp2kReliable(cookie: number, kcp: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + kcp.length);
  out[0] = 1;
  le32(out, 1, cookie);
  out.set(kcp, 5);
  return out;
}

/** KcpPeer.cs SendUnreliable: `| 2 | cookie u32 LE | header (4 data, 5 disconnect) | data |`. */
export function kcp2kUnreliable(
  cookie: number,
  header: number,
  data: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const out = new Uint8Array(6 + data.length);
  out[0] = 2;
  le32(out, 1, cookie);
  out[5] = header;
  out.set(data, 6);
  return out;
}

/** kcp-go FEC with `dataShards` data shards then one parity shard per group (seqids continue across both). */
export function fecFraming(dataShards = 3): PeerFraming {
  const state = new Map<Side, { next: number; group: Uint8Array[] }>();
  return {
    wrap(kcp, side) {
      const s = state.get(side) ?? { next: 0, group: [] };
      state.set(side, s);
      const shard = fecDataShard(s.next++, kcp);
      s.group.push(shard);
      if (s.group.length < dataShards) return [shard];
      const parity = fecParityShard(s.next++, s.group);
      s.group = [];
      return [shard, parity];
    },
    unwrap(datagram) {
      if (datagram.length < 8 || datagram[4] !== 0xf1 || datagram[5] !== 0) return null;
      const size = datagram[6]! | (datagram[7]! << 8);
      return size === datagram.length - 6 ? datagram.subarray(8) : null;
    },
  };
}

/** kcp-go crypt=none around raw KCP, or around FEC when `inner` is given. */
export function cryptNoneFraming(inner: PeerFraming | null = null): PeerFraming {
  return {
    wrap(kcp, side) {
      const framed = inner === null ? [kcp] : inner.wrap(kcp, side);
      return framed.map((datagram) => cryptNoneWrap(datagram));
    },
    unwrap(datagram, side) {
      if (datagram.length < 20) return null;
      const body = datagram.subarray(20);
      if (crc32(body) !== readLe32(datagram, 16)) return null;
      return inner === null ? body : inner.unwrap(body, side);
    },
  };
}

/**
 * kcp2k reliable channel: the server owns `cookie`; the client sends 0 until
 * the server's first datagram teaches it the cookie (KcpClient.RawInput).
 */
export function kcp2kFraming(
  serverCookie: number,
): PeerFraming & { readonly clientCookie: () => number } {
  let clientCookie = 0;
  return {
    clientCookie: () => clientCookie,
    wrap(kcp, side) {
      return [kcp2kReliable(side === 'server' ? serverCookie : clientCookie, kcp)];
    },
    unwrap(datagram, side) {
      if (datagram.length <= 5) return null;
      if (side === 'client' && clientCookie === 0) clientCookie = readLe32(datagram, 1);
      return datagram[0] === 1 ? datagram.subarray(5) : null;
    },
  };
}
