import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Signed routing token, appended by the client to each datagram and stripped
 * by the node proxy (the suffix-token convention of Quilkin's Capture +
 * TokenRouter filters, but signed and expiring):
 *
 *   [0..7]   token id (random; its lowercase hex is the routing key)
 *   [8..11]  expiry, u32 big-endian Unix seconds
 *   [12..27] HMAC-SHA256(secret, bytes 0..11), first 16 bytes
 */
export const ROUTING_TOKEN_BYTES = 28;
const SIGNED_BYTES = 12;
const MAC_BYTES = 16;

export type RoutingTokenCheck =
  | { readonly ok: true; readonly key: string; readonly expiresAtSeconds: number }
  | { readonly ok: false; readonly code: 'bad_size' | 'bad_signature' | 'expired' };

function mac(secret: string | Uint8Array, signed: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(signed).digest().subarray(0, MAC_BYTES);
}

export function signRoutingToken(
  secret: string | Uint8Array,
  expiresAtSeconds: number,
  id: Uint8Array = randomBytes(8),
): { readonly bytes: Uint8Array; readonly key: string } {
  const out = new Uint8Array(ROUTING_TOKEN_BYTES);
  out.set(id.subarray(0, 8), 0);
  new DataView(out.buffer).setUint32(8, expiresAtSeconds >>> 0, false);
  out.set(mac(secret, out.subarray(0, SIGNED_BYTES)), SIGNED_BYTES);
  return { bytes: out, key: Buffer.from(out.subarray(0, 8)).toString('hex') };
}

/** Checks a token (e.g. the last 28 bytes of a datagram); never throws. */
export function verifyRoutingToken(
  secret: string | Uint8Array,
  token: Uint8Array,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): RoutingTokenCheck {
  if (token.length !== ROUTING_TOKEN_BYTES) return { ok: false, code: 'bad_size' };
  const expected = mac(secret, token.subarray(0, SIGNED_BYTES));
  if (!timingSafeEqual(expected, token.subarray(SIGNED_BYTES)))
    return { ok: false, code: 'bad_signature' };
  const expiresAtSeconds = new DataView(token.buffer, token.byteOffset, token.byteLength).getUint32(
    8,
    false,
  );
  if (expiresAtSeconds <= nowSeconds) return { ok: false, code: 'expired' };
  return { ok: true, key: Buffer.from(token.subarray(0, 8)).toString('hex'), expiresAtSeconds };
}
