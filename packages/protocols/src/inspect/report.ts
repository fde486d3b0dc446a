import { type DetailValue, type ProtocolStats, WELL_KNOWN_STATS } from '@gamemesh/core';
import type { InspectError } from './errors.js';
import type { FlowRecord } from './flows.js';
import type { InspectResult } from './inspect.js';

/**
 * What `gamemesh-inspect` prints: one JSON object per flow (`--json`) or a
 * table, and a summary for stderr. Field names are documented in
 * docs/inspect.md; scripts depend on them.
 */

export interface FlowJson {
  readonly src: string;
  readonly dst: string;
  readonly protocol: string;
  readonly variant: string | null;
  readonly key: string | null;
  readonly packets: { readonly forward: number; readonly reverse: number };
  readonly bytes: { readonly forward: number; readonly reverse: number };
  readonly opened: {
    readonly at: number;
    readonly key: string | null;
    readonly detail: Readonly<Record<string, DetailValue>>;
  } | null;
  readonly closed: { readonly reason: string; readonly at: number } | null;
  readonly stats: ProtocolStats | null;
  /** Classification reason: the probe's code when matched, the classifier's when unknown. */
  readonly reason: string;
  /** Each protocol's last reason code, for flows no protocol matched. */
  readonly verdicts: Readonly<Record<string, string>> | null;
  readonly firstAt: number | null;
  readonly lastAt: number | null;
  readonly faults: readonly string[];
}

/** A flow the capture ended on while protocols still wanted more datagrams. */
export const PENDING_REASON = 'capture_ended_pending';

export function flowJson(record: FlowRecord): FlowJson {
  const { flow } = record;
  const classification = flow.classification;
  const matched = classification.state === 'matched' ? classification : null;
  // stats() and key() may reach a plugin tracker; read them before `faults`, which they can extend.
  const stats = flow.stats();
  const key = flow.key();
  return {
    src: record.src,
    dst: record.dst,
    protocol: matched === null ? 'unknown' : matched.protocol.name,
    variant: matched === null ? null : matched.variant,
    key,
    packets: { ...flow.packets },
    bytes: { ...flow.bytes },
    opened:
      flow.opened === null
        ? null
        : { at: flow.opened.at, key: flow.opened.key, detail: flow.opened.detail },
    closed: flow.closed === null ? null : { reason: flow.closed.reason, at: flow.closed.at },
    stats,
    reason: classification.state === 'pending' ? PENDING_REASON : classification.reason,
    verdicts: classification.state === 'unknown' ? classification.verdicts : null,
    firstAt: flow.firstAt,
    lastAt: flow.lastAt,
    faults: [...record.faults],
  };
}

// The table is for reading at a glance: the well-known statistics first
// (loss, jitter, RTT mean the same in every protocol), then the protocol's
// own non-empty figures up to a budget. `--json` carries every statistic.
const TABLE_STATS_BUDGET = 8;
const WELL_KNOWN_FIRST = Object.keys(WELL_KNOWN_STATS);

export function compactStats(stats: ProtocolStats | null, budget = TABLE_STATS_BUDGET): string {
  if (stats === null) return '';
  const names = [
    ...WELL_KNOWN_FIRST.filter((name) => Object.hasOwn(stats, name)),
    ...Object.keys(stats).filter((name) => !WELL_KNOWN_FIRST.includes(name)),
  ];
  const shown: string[] = [];
  let hidden = 0;
  for (const name of names) {
    const value = stats[name];
    if (value === null || value === undefined || value === false || value === 0 || value === '')
      continue;
    if (shown.length >= budget) {
      hidden++;
      continue;
    }
    shown.push(
      `${name}=${typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(3) : String(value)}`,
    );
  }
  if (hidden > 0) shown.push(`(+${hidden} in --json)`);
  return shown.join(' ');
}

const HEADERS = ['flow', 'protocol', 'key', 'packets f/r', 'bytes f/r', 'lifecycle', 'stats'];

export function flowTable(flows: readonly FlowJson[]): string {
  const rows = flows.map((f) => [
    `${f.src} -> ${f.dst}`,
    f.variant === null ? f.protocol : `${f.protocol}/${f.variant}`,
    f.key ?? '-',
    `${f.packets.forward}/${f.packets.reverse}`,
    `${f.bytes.forward}/${f.bytes.reverse}`,
    lifecycle(f),
    [compactStats(f.stats), f.faults.length > 0 ? `faults=${f.faults.length}` : '']
      .filter((s) => s !== '')
      .join(' '),
  ]);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(HEADERS), ...rows.map(line)].join('\n')}\n`;
}

function lifecycle(f: FlowJson): string {
  if (f.protocol === 'unknown') return `unknown (${f.reason})`;
  const opened = f.opened === null ? 'not opened' : 'opened';
  return f.closed === null ? opened : `${opened}, closed ${f.closed.reason}`;
}

export interface SummaryJson {
  readonly format: string | null;
  readonly frames: number;
  readonly datagrams: number;
  readonly flows: number;
  readonly protocols: Readonly<Record<string, number>>;
  readonly skipped: Readonly<Record<string, number>>;
  readonly bytesRead: number;
  readonly error: InspectError | null;
}

export function summaryJson(result: InspectResult, flows: readonly FlowJson[]): SummaryJson {
  const protocols: Record<string, number> = {};
  for (const flow of flows) protocols[flow.protocol] = (protocols[flow.protocol] ?? 0) + 1;
  const skipped = Object.fromEntries(
    Object.entries(result.skipped).filter(([, count]) => count > 0),
  );
  return {
    format: result.capture.format,
    frames: result.capture.frames,
    datagrams: result.datagrams,
    flows: flows.length,
    protocols,
    skipped,
    bytesRead: result.capture.bytesRead,
    error: result.capture.error,
  };
}

export function summaryText(summary: SummaryJson): string {
  const parts = [
    `${summary.frames} frames (${summary.format ?? 'unknown format'}), ${summary.datagrams} UDP datagrams, ${summary.flows} flows`,
  ];
  const protocols = Object.entries(summary.protocols).map(([name, count]) => `${name}=${count}`);
  if (protocols.length > 0) parts.push(`protocols: ${protocols.join(' ')}`);
  const skipped = Object.entries(summary.skipped).map(([reason, count]) => `${reason}=${count}`);
  if (skipped.length > 0) parts.push(`skipped: ${skipped.join(' ')}`);
  return `${parts.join('\n')}\n`;
}
