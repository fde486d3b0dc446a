/**
 * Turns the rounds of the data-plane benchmark into medians, ratios and
 * target verdicts, prints the table and builds the JSON record. Ratios and
 * added latencies are taken per round (cases of one round ran side by side)
 * and then the median over rounds, so a slow phase of a noisy machine hits
 * numerator and denominator alike.
 */
import type { LatencySample, ThroughputSample } from './measure-relay.js';

export type CaseName = 'direct' | 'bare-c' | 'bare-c-gso' | 'floor' | 'gamemesh' | 'nginx' | 'node';

/**
 * Cases measured for latency only. `floor` relays a single flow (replies go
 * to the last client seen), so it cannot carry the 8-source throughput load
 * as a relay.
 */
export const LATENCY_ONLY_CASES: ReadonlySet<CaseName> = new Set<CaseName>(['floor']);

export interface Round<T> {
  readonly byCase: Partial<Record<CaseName, T>>;
}

export interface SessionsResult {
  readonly requested: number;
  readonly established: number;
  readonly rssDeltaBytes: number;
  readonly rssBytesPerSession: number;
  readonly tableBytesPerSession: number;
  readonly sharedBytesPerSession: number;
  readonly upstreamSockets: number;
  readonly note: string;
}

export interface TargetVerdict {
  readonly target: string;
  readonly payload: number | null;
  readonly value: number;
  readonly limit: string;
  readonly pass: boolean;
}

export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const middle = Math.floor(finite.length / 2);
  return finite.length % 2 === 1 ? finite[middle]! : (finite[middle - 1]! + finite[middle]!) / 2;
}

function perRound<T>(
  rounds: readonly Round<T>[],
  pick: (round: Round<T>) => number | undefined,
): number {
  return median(rounds.map(pick).filter((v): v is number => v !== undefined));
}

export interface PayloadSummary {
  readonly payload: number;
  readonly throughput: Record<string, { packetsPerSecond: number; cpuUsPerPacket: number }>;
  readonly latency: Record<
    string,
    { p50Us: number; p99Us: number; addedP50Us: number; addedP99Us: number }
  >;
  readonly ratios: { bareC: number; nginx: number; node: number };
}

export function summarize(
  payload: number,
  throughput: readonly Round<ThroughputSample>[],
  latency: readonly Round<LatencySample>[],
  cases: readonly CaseName[],
): PayloadSummary {
  const ratio = (other: CaseName) =>
    perRound(throughput, (r) => {
      const g = r.byCase.gamemesh?.packetsPerSecond;
      const o = r.byCase[other]?.packetsPerSecond;
      return g !== undefined && o !== undefined && o > 0 ? g / o : undefined;
    });
  const added = (name: CaseName, pick: (s: LatencySample) => number) =>
    perRound(latency, (r) => {
      const own = r.byCase[name];
      const direct = r.byCase.direct;
      return own !== undefined && direct !== undefined ? pick(own) - pick(direct) : undefined;
    });
  const summary: PayloadSummary = {
    payload,
    throughput: {},
    latency: {},
    ratios: { bareC: ratio('bare-c'), nginx: ratio('nginx'), node: ratio('node') },
  };
  for (const name of cases) {
    if (!LATENCY_ONLY_CASES.has(name)) {
      summary.throughput[name] = {
        packetsPerSecond: perRound(throughput, (r) => r.byCase[name]?.packetsPerSecond),
        cpuUsPerPacket: perRound(throughput, (r) => r.byCase[name]?.cpuUsPerPacket),
      };
    }
    summary.latency[name] = {
      p50Us: perRound(latency, (r) => r.byCase[name]?.p50Us),
      p99Us: perRound(latency, (r) => r.byCase[name]?.p99Us),
      addedP50Us: name === 'direct' ? 0 : added(name, (s) => s.p50Us),
      addedP99Us: name === 'direct' ? 0 : added(name, (s) => s.p99Us),
    };
  }
  return summary;
}

export function verdicts(
  summaries: readonly PayloadSummary[],
  sessions: SessionsResult | null,
): TargetVerdict[] {
  const out: TargetVerdict[] = [];
  for (const s of summaries) {
    const g = s.throughput.gamemesh;
    const lat = s.latency.gamemesh;
    const add = (target: string, value: number, limit: string, pass: boolean) =>
      out.push({ target, payload: s.payload, value, limit, pass: Number.isFinite(value) && pass });
    add('packets/s vs bare C', s.ratios.bareC, '>= 0.90', s.ratios.bareC >= 0.9);
    add('packets/s vs nginx', s.ratios.nginx, '>= 1.5', s.ratios.nginx >= 1.5);
    add('packets/s vs node dgram', s.ratios.node, '>= 2.8', s.ratios.node >= 2.8);
    if (g !== undefined)
      add('relay CPU us/packet', g.cpuUsPerPacket, '<= 2.2', g.cpuUsPerPacket <= 2.2);
    if (lat !== undefined) {
      add('added RTT p50 us', lat.addedP50Us, '<= 8', lat.addedP50Us <= 8);
      add('added RTT p99 us', lat.addedP99Us, '<= 20', lat.addedP99Us <= 20);
    }
  }
  if (sessions !== null) {
    out.push({
      target: `bytes/session at ${sessions.established} sessions (RSS)`,
      payload: null,
      value: sessions.rssBytesPerSession,
      limit: '<= 300',
      pass: sessions.established >= sessions.requested && sessions.rssBytesPerSession <= 300,
    });
  }
  return out;
}

const fixed = (value: number, digits: number) =>
  Number.isFinite(value) ? value.toFixed(digits) : '-';
const kpps = (value: number) => (Number.isFinite(value) ? `${(value / 1000).toFixed(0)}k` : '-');

export function printTable(
  summaries: readonly PayloadSummary[],
  cases: readonly CaseName[],
  sessions: SessionsResult | null,
  targets: readonly TargetVerdict[],
  rounds: { throughput: number; latency: number },
): void {
  const row = (cells: readonly string[], widths: readonly number[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ');
  const widths = [10, 8, 10, 12, 9, 9, 11, 11];
  console.log(
    `\nData plane on loopback (median of ${rounds.throughput} throughput / ${rounds.latency} latency rounds; RTP headers, tracked by gamemesh)`,
  );
  for (const s of summaries) {
    console.log(`\npayload ${s.payload} bytes`);
    console.log(
      row(
        [
          'case',
          'pkts/s',
          'CPU us/pk',
          'vs gamemesh',
          'RTT p50',
          'RTT p99',
          'added p50',
          'added p99',
        ],
        widths,
      ),
    );
    const gamemesh = s.throughput.gamemesh?.packetsPerSecond ?? Number.NaN;
    for (const name of cases) {
      const t = s.throughput[name];
      const l = s.latency[name];
      if (l === undefined) continue;
      console.log(
        row(
          [
            name,
            t === undefined ? '' : kpps(t.packetsPerSecond),
            t === undefined ? '' : fixed(t.cpuUsPerPacket, 2),
            t === undefined
              ? 'latency only'
              : name === 'gamemesh' || name === 'direct'
                ? ''
                : `${fixed(gamemesh / t.packetsPerSecond, 2)}x`,
            fixed(l.p50Us, 1),
            fixed(l.p99Us, 1),
            name === 'direct' ? '' : fixed(l.addedP50Us, 1),
            name === 'direct' ? '' : fixed(l.addedP99Us, 1),
          ],
          widths,
        ),
      );
    }
  }
  if (sessions !== null) {
    console.log(
      `\nsessions: ${sessions.established}/${sessions.requested} established; RSS +${(sessions.rssDeltaBytes / 1048576).toFixed(1)} MiB = ${fixed(sessions.rssBytesPerSession, 0)} B/session; native: table ${fixed(sessions.tableBytesPerSession, 0)} B + shared stats ${sessions.sharedBytesPerSession} B per session; ${sessions.upstreamSockets} upstream sockets`,
    );
    if (sessions.note !== '') console.log(`  ${sessions.note}`);
  }
  console.log('\ntargets (gamemesh, RTP tracking on the measured flows)');
  for (const t of targets) {
    const where = t.payload === null ? '' : ` [${t.payload} B]`;
    console.log(
      `  ${t.pass ? 'PASS' : 'FAIL'}  ${`${t.target}${where}`.padEnd(44)} ${fixed(t.value, 2).padStart(8)}  (${t.limit})`,
    );
  }
}
