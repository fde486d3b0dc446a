import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { hex, u32be } from './bytes.js';

/**
 * The signed routing token of `token`-mode listeners, shared by the
 * matchmaker (which issues it) and the node proxy (which verifies it on a new
 * flow). The client appends it to each datagram, the proxy strips it: the
 * suffix-token convention of Quilkin's Capture + TokenRouter filters, but
 * signed and expiring, so a client cannot pick another player's pod.
 *
 *   [0..7]   token id (random; its lowercase hex is the routing key)
 *   [8..11]  expiry, u32 big-endian Unix seconds
 *   [12..27] HMAC-SHA256(secret, bytes 0..11), first 16 bytes
 *
 * node:crypto: core runs on Node only (the workspace targets Node 20, and
 * everything that imports core is a Node process).
 */
export const ROUTING_TOKEN_BYTES = 28;
const ID_BYTES = 8;
const SIGNED_BYTES = 12;
const MAC_BYTES = 16;

/** Why a token was refused; also metric labels (the proxy drops with `token_<code>`). */
export const ROUTING_TOKEN_CODES = {
  bad_size: `the token is not ${ROUTING_TOKEN_BYTES} bytes`,
  bad_signature: 'the signature does not match the secret (forged, altered or another secret)',
  expired: 'the expiry has passed (the matchmaker issues tokens for the assignment lifetime)',
} as const;

export type RoutingTokenCode = keyof typeof ROUTING_TOKEN_CODES;

export type RoutingTokenCheck =
  | { readonly ok: true; readonly key: string; readonly expiresAtSeconds: number }
  | { readonly ok: false; readonly code: RoutingTokenCode };

function mac(secret: string | Uint8Array, signed: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(signed).digest().subarray(0, MAC_BYTES);
}

/** Mints a token; `id` (8 bytes) defaults to random. */
export function signRoutingToken(
  secret: string | Uint8Array,
  expiresAtSeconds: number,
  id: Uint8Array = randomBytes(ID_BYTES),
): { readonly bytes: Uint8Array; readonly key: string } {
  const out = new Uint8Array(ROUTING_TOKEN_BYTES);
  out.set(id.subarray(0, ID_BYTES), 0);
  new DataView(out.buffer).setUint32(ID_BYTES, expiresAtSeconds >>> 0, false);
  out.set(mac(secret, out.subarray(0, SIGNED_BYTES)), SIGNED_BYTES);
  return { bytes: out, key: hex(out, 0, ID_BYTES) };
}

/**
 * Checks a token (e.g. the last 28 bytes of a datagram); never throws. The
 * signature is compared in constant time: this is where a forger would probe.
 */
export function verifyRoutingToken(
  secret: string | Uint8Array,
  token: Uint8Array,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): RoutingTokenCheck {
  if (token.length !== ROUTING_TOKEN_BYTES) return { ok: false, code: 'bad_size' };
  const expected = mac(secret, token.subarray(0, SIGNED_BYTES));
  if (!timingSafeEqual(expected, token.subarray(SIGNED_BYTES)))
    return { ok: false, code: 'bad_signature' };
  const expiresAtSeconds = u32be(token, ID_BYTES);
  if (expiresAtSeconds <= nowSeconds) return { ok: false, code: 'expired' };
  return { ok: true, key: hex(token, 0, ID_BYTES), expiresAtSeconds };
}
