/**
 * A flow is the two-way exchange between one client endpoint and one server
 * endpoint. `forward` is the direction of the flow's first datagram (for a
 * proxy: client to upstream); `reverse` is the other way.
 */
export type Direction = 'forward' | 'reverse';

export interface Datagram {
  /** The UDP payload. Probes and trackers must not keep or mutate it. */
  readonly data: Uint8Array;
  readonly direction: Direction;
  /** Arrival time in milliseconds since the Unix epoch (fractional: microsecond precision). */
  readonly at: number;
}

export const DIRECTIONS: readonly Direction[] = ['forward', 'reverse'];

export function opposite(direction: Direction): Direction {
  return direction === 'forward' ? 'reverse' : 'forward';
}
