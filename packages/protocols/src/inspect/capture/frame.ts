/** One captured link-layer frame, as the capture file holds it. */
export interface CapturedFrame {
  readonly linkType: number;
  /** Capture time in milliseconds since the Unix epoch (fractional). */
  readonly at: number;
  /** The captured bytes: a view into the reader's buffer, valid only during the callback. */
  readonly data: Uint8Array;
  /** Length of the frame on the wire; larger than `data.length` when the snaplen cut it. */
  readonly originalLength: number;
  /** File offset of the record or block holding the frame. */
  readonly offset: number;
}

export type FrameSink = (frame: CapturedFrame) => void;

export type CaptureFormat = 'pcap' | 'pcap-ns' | 'pcapng';

// Records larger than this are corruption, not packets; it also bounds the reader's buffer.
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;
