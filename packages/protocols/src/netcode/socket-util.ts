/** Small helpers shared by the dgram-based client and server. */

/** Monotonic seconds for timers and timeouts (immune to wall-clock steps). */
export function clockSeconds(): number {
  return performance.now() / 1000;
}

/** Wall-clock Unix seconds, for token expiry (tokens carry absolute timestamps). */
export function unixSeconds(): number {
  return Date.now() / 1000;
}

/** A Uint8Array view of a Buffer without copying. */
export function toUint8Array(data: Buffer): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
