import { u32be, u32le } from '@gamemesh/core';
import { errorMessage, type InspectError, inspectError } from '../errors.js';
import { type ByteSource, CaptureCursor, DEFAULT_CHUNK_BYTES } from './cursor.js';
import type { CaptureFormat, FrameSink } from './frame.js';
import { PCAP_MAGIC_MICROS, PCAP_MAGIC_NANOS, readPcap } from './pcap.js';
import { PCAPNG_SHB, readPcapng } from './pcapng.js';

/**
 * Reads a capture of either format from a byte source, streaming: frames are
 * handed to `onFrame` as views into one reusable buffer. Bad bytes end the
 * read with an error value naming the byte offset; frames delivered before
 * it stay delivered. Nothing here throws on file content.
 */

export interface CaptureSummary {
  format: CaptureFormat | null;
  /** Link types seen (pcap: the file's; pcapng: every interface's). */
  linkTypes: number[];
  frames: number;
  /** File offset where reading stopped: the end of the file, or the start of the bad record or block. */
  bytesRead: number;
  sections: number;
  skippedBlocks: number;
  error: InspectError | null;
}

/** The summary of a read that has not (or could not) read anything yet. */
export function emptySummary(error: InspectError | null = null): CaptureSummary {
  return {
    format: null,
    linkTypes: [],
    frames: 0,
    bytesRead: 0,
    sections: 0,
    skippedBlocks: 0,
    error,
  };
}

export interface ReadOptions {
  readonly chunkBytes?: number;
}

export async function readCapture(
  source: ByteSource,
  onFrame: FrameSink,
  options: ReadOptions = {},
): Promise<CaptureSummary> {
  const cursor = new CaptureCursor(source, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  const summary = emptySummary();
  const counting: FrameSink = (frame) => {
    summary.frames++;
    if (!summary.linkTypes.includes(frame.linkType)) summary.linkTypes.push(frame.linkType);
    onFrame(frame);
  };
  try {
    summary.error = await dispatch(cursor, summary, counting);
  } catch (error) {
    // Only I/O can land here (the parsers return errors as values).
    summary.error = inspectError(
      'GM_INSPECT_OPEN',
      `read failed: ${errorMessage(error)}`,
      cursor.offset,
    );
  }
  // A block skipped by its length can move the cursor past the end of the file.
  summary.bytesRead = summary.error?.offset ?? cursor.offset;
  return summary;
}

async function dispatch(
  cursor: CaptureCursor,
  summary: CaptureSummary,
  onFrame: FrameSink,
): Promise<InspectError | null> {
  const available = await cursor.ensure(4);
  if (available < 4) {
    return inspectError(
      'GM_INSPECT_TRUNCATED',
      `format magic needs 4 bytes, ${available} remain`,
      0,
    );
  }
  const head = cursor.view(4);
  const le = u32le(head, 0);
  const be = u32be(head, 0);
  if (le === PCAPNG_SHB) {
    summary.format = 'pcapng';
    const stats = { sections: 0, interfaces: 0, skippedBlocks: 0 };
    const error = await readPcapng(cursor, stats, onFrame);
    summary.sections = stats.sections;
    summary.skippedBlocks = stats.skippedBlocks;
    return error;
  }
  if (
    le === PCAP_MAGIC_MICROS ||
    be === PCAP_MAGIC_MICROS ||
    le === PCAP_MAGIC_NANOS ||
    be === PCAP_MAGIC_NANOS
  ) {
    return readPcap(
      cursor,
      (header) => {
        summary.format = header.nanoseconds ? 'pcap-ns' : 'pcap';
        if (!summary.linkTypes.includes(header.linkType)) summary.linkTypes.push(header.linkType);
      },
      onFrame,
    );
  }
  return inspectError(
    'GM_INSPECT_UNKNOWN_FORMAT',
    `magic 0x${be.toString(16).padStart(8, '0')} is neither pcap (a1b2c3d4, a1b23c4d) nor pcapng (0a0d0d0a)`,
    0,
  );
}
