/**
 * Little-endian writers for netcode's encoders. Readers live in
 * @gamemesh/core bytes.ts; netcode writes, so it needs the other half.
 */

export function writeU16le(b: Uint8Array, o: number, value: number): void {
  b[o] = value & 0xff;
  b[o + 1] = (value >>> 8) & 0xff;
}

export function writeU32le(b: Uint8Array, o: number, value: number): void {
  b[o] = value & 0xff;
  b[o + 1] = (value >>> 8) & 0xff;
  b[o + 2] = (value >>> 16) & 0xff;
  b[o + 3] = (value >>> 24) & 0xff;
}

export function writeU64le(b: Uint8Array, o: number, value: bigint): void {
  const v = BigInt.asUintN(64, value);
  writeU32le(b, o, Number(v & 0xffff_ffffn));
  writeU32le(b, o + 4, Number(v >> 32n));
}

/** Lowercase hex to bytes; null when the text is not even-length hex. */
export function fromHex(text: string): Uint8Array | null {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return null;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
