/**
 * Bounds-unchecked integer readers for parsers that have already checked the
 * length. They read from a Uint8Array without allocating a DataView per
 * datagram. Callers guarantee `offset + width <= bytes.length`.
 */

export function u16be(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

export function u16le(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

export function u24le(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16);
}

export function u32be(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function u32le(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

export function u64be(b: Uint8Array, o: number): bigint {
  return (BigInt(u32be(b, o)) << 32n) | BigInt(u32be(b, o + 4));
}

export function u64le(b: Uint8Array, o: number): bigint {
  return (BigInt(u32le(b, o + 4)) << 32n) | BigInt(u32le(b, o));
}

/** True when `b[offset..offset+pattern.length)` equals `pattern`. Checks bounds. */
export function bytesAt(b: Uint8Array, offset: number, pattern: Uint8Array): boolean {
  if (offset < 0 || offset + pattern.length > b.length) return false;
  for (let i = 0; i < pattern.length; i++) {
    if (b[offset + i] !== pattern[i]) return false;
  }
  return true;
}

export function hex(b: Uint8Array, offset = 0, length = b.length - offset): string {
  let out = '';
  const end = Math.min(b.length, offset + length);
  for (let i = offset; i < end; i++) out += b[i]!.toString(16).padStart(2, '0');
  return out;
}

/** Unsigned 32-bit value as a fixed-width lowercase hex string, `0x` prefixed. */
export function hex32(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, '0')}`;
}
