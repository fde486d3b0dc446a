import { chacha20poly1305, xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { writeU64le } from './wire.js';

/**
 * The two AEADs netcode 1.02 uses (PROTOCOLS.md §3.1/§3.2): packets and
 * challenge tokens use ChaCha20-Poly1305 IETF with a 12-byte nonce
 * `u32 0 || u64 LE sequence`; the private connect token uses
 * XChaCha20-Poly1305 with the token's 24-byte nonce. Failed opens are null,
 * never exceptions: forged input is an ordinary event on a network edge.
 */

const EMPTY = new Uint8Array(0);

export function sequenceNonce(sequence: bigint): Uint8Array {
  const nonce = new Uint8Array(12);
  writeU64le(nonce, 4, sequence);
  return nonce;
}

export function sealIetf(
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array | null,
  plaintext: Uint8Array,
): Uint8Array {
  return chacha20poly1305(key, nonce, ad ?? EMPTY).encrypt(plaintext);
}

export function openIetf(
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array | null,
  sealed: Uint8Array,
): Uint8Array | null {
  try {
    return chacha20poly1305(key, nonce, ad ?? EMPTY).decrypt(sealed);
  } catch {
    return null;
  }
}

export function sealX(
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  return xchacha20poly1305(key, nonce, ad).encrypt(plaintext);
}

export function openX(
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array | null {
  try {
    return xchacha20poly1305(key, nonce, ad).decrypt(sealed);
  } catch {
    return null;
  }
}
