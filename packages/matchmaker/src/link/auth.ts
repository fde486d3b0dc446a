import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Link handshake: the proxy signs its node id and the current time with the
 * shared secret, in headers of the WebSocket upgrade request, so a bad
 * credential is answered with HTTP 401 before any frame is read. The time
 * bounds replay to the allowed skew.
 */
export const LINK_HEADERS = {
  node: 'x-gamemesh-node',
  time: 'x-gamemesh-time',
  signature: 'x-gamemesh-signature',
} as const;

function signature(secret: string, node: string, time: number): Buffer {
  return createHmac('sha256', secret).update(`gamemesh-link-v1\n${node}\n${time}`).digest();
}

export function linkAuthHeaders(
  secret: string,
  node: string,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): Record<string, string> {
  return {
    [LINK_HEADERS.node]: node,
    [LINK_HEADERS.time]: String(nowSeconds),
    [LINK_HEADERS.signature]: signature(secret, node, nowSeconds).toString('hex'),
  };
}

export function verifyLinkAuth(
  secret: string,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  maxSkewSeconds: number,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): string | null {
  const node = headers[LINK_HEADERS.node];
  const time = headers[LINK_HEADERS.time];
  const sig = headers[LINK_HEADERS.signature];
  if (typeof node !== 'string' || typeof time !== 'string' || typeof sig !== 'string') return null;
  if (!/^\d{1,12}$/.test(time) || !/^[0-9a-f]{64}$/.test(sig)) return null;
  const at = Number(time);
  if (Math.abs(nowSeconds - at) > maxSkewSeconds) return null;
  const expected = signature(secret, node, at);
  return timingSafeEqual(expected, Buffer.from(sig, 'hex')) ? node : null;
}
