import type { Registry } from '@gamemesh/core';
import { type ByteSource, openFileSource } from './capture/cursor.js';
import { decodeUdp } from './capture/ip.js';
import { locateIp } from './capture/link.js';
import { type CaptureSummary, emptySummary, readCapture } from './capture/reader.js';
import { errorMessage, inspectError, SKIP_REASONS, type SkipReason } from './errors.js';
import { type FaultReport, type FlowRecord, FlowTable } from './flows.js';

/**
 * Capture in, classified flows out: frames from the streaming reader are
 * decoded to UDP datagrams and fed to the flow table. The registry is
 * injected, so the same code runs the built-ins, plugins or test protocols.
 */

export interface InspectOptions {
  readonly registry: Registry;
  readonly window?: number | undefined;
  /** Keep only datagrams with this source or destination port. */
  readonly udpPort?: number | null;
  readonly chunkBytes?: number;
  readonly onFault?: ((report: FaultReport) => void) | undefined;
}

export interface InspectResult {
  readonly flows: FlowRecord[];
  readonly capture: CaptureSummary;
  /** UDP datagrams fed to flows. */
  readonly datagrams: number;
  /** Frames that did not become datagrams, by why. */
  readonly skipped: Readonly<Record<SkipReason, number>>;
}

export async function inspectCapture(
  source: ByteSource,
  options: InspectOptions,
): Promise<InspectResult> {
  const table = new FlowTable({
    registry: options.registry,
    window: options.window,
    onFault: options.onFault,
  });
  const skipped = noneSkipped();
  const port = options.udpPort ?? null;
  let datagrams = 0;
  const capture = await readCapture(
    source,
    (frame) => {
      const link = locateIp(frame.linkType, frame.data);
      if (typeof link === 'string') {
        skipped[link]++;
        return;
      }
      const packet = decodeUdp(frame.data, link, frame.data.length < frame.originalLength);
      if (typeof packet === 'string') {
        skipped[packet]++;
        return;
      }
      if (port !== null && packet.sourcePort !== port && packet.destinationPort !== port) {
        skipped.filtered++;
        return;
      }
      datagrams++;
      table.observe(packet, frame.at);
    },
    options.chunkBytes === undefined ? {} : { chunkBytes: options.chunkBytes },
  );
  return { flows: table.records(), capture, datagrams, skipped };
}

/** Like `inspectCapture` on a file; a file that cannot be opened is an error value too. */
export async function inspectFile(path: string, options: InspectOptions): Promise<InspectResult> {
  let source: ByteSource;
  try {
    source = await openFileSource(path);
  } catch (error) {
    return emptyResult(
      inspectError('GM_INSPECT_OPEN', `cannot open ${path}: ${errorMessage(error)}`),
    );
  }
  try {
    return await inspectCapture(source, options);
  } finally {
    await source.close();
  }
}

function emptyResult(error: CaptureSummary['error']): InspectResult {
  return { flows: [], capture: emptySummary(error), datagrams: 0, skipped: noneSkipped() };
}

function noneSkipped(): Record<SkipReason, number> {
  return Object.fromEntries(Object.keys(SKIP_REASONS).map((reason) => [reason, 0])) as Record<
    SkipReason,
    number
  >;
}
