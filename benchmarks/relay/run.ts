/**
 * The data-plane benchmark: one command, everything side by side on
 * loopback in one run.
 *
 *   (a) direct   sender -> sink
 *   (b) bare-c   a bare epoll + recvmmsg/sendmmsg relay, built here with cc -O2
 *       bare-c-gso the same relay sending equal-size runs as UDP GSO (informational)
 *       floor    two threads blocked in recvfrom, one flow, no batching: the
 *                latency floor of any user-space relay (informational, latency only)
 *   (c) gamemesh the native data plane, RTP tracking on every measured flow
 *   (d) nginx    stream UDP proxy (Debian nginx-light + libnginx-mod-stream)
 *   (e) node     a Node dgram relay
 *
 * Payloads of 64 and 1200 bytes; packets/s and relay CPU per packet at
 * saturation, ping-pong round-trip p50/p99 pinned to CPU 0, and 100k
 * concurrent sessions in gamemesh's flow table; once per run, the machine's
 * context-switch cost (perf bench sched pipe on CPU 0). Prints a table with a
 * PASS/FAIL per target and writes the JSON to benchmarks/results/; exits 0
 * whatever the verdicts (it is a measurement, not a test).
 *
 * Environment: GAMEMESH_BENCH_ROUNDS (default 3), GAMEMESH_BENCH_QUICK=1
 * (one short round, for checking the harness).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ContextSwitchCost, measureContextSwitch } from './context-switch.js';
import {
  type LatencySample,
  type LoadSettings,
  measureLatency,
  measureThroughput,
  type RelayUnderTest,
  type ThroughputSample,
} from './measure-relay.js';
import { nginxCommand, nginxMissing } from './nginx.js';
import { freeUdpPort, waitForUdpPort } from './ports.js';
import { allCpus, type JsonObject, packageRoot, start, stopAll, type Tool } from './processes.js';
import {
  type CaseName,
  LATENCY_ONLY_CASES,
  printTable,
  type Round,
  type SessionsResult,
  summarize,
  verdicts,
} from './report.js';
import { hostStats, measureSessions } from './sessions.js';

const PAYLOADS = [64, 1200] as const;
const TOTAL_BUDGET_MS = 5 * 60_000;
const quick = process.env.GAMEMESH_BENCH_QUICK === '1';
const rounds = quick ? 1 : Math.max(1, Number(process.env.GAMEMESH_BENCH_ROUNDS ?? 3));

interface Tools {
  readonly udpLoad: string;
  readonly bareRelay: string;
  readonly bareRelayGso: string;
  readonly floorRelay: string;
}

function buildTools(dir: string): Tools {
  const sources = join(packageRoot(), 'relay');
  const build = (name: string, out = join(dir, name), flags: readonly string[] = []) => {
    execFileSync(
      'cc',
      ['-O2', '-std=c11', '-Wall', '-Wextra', ...flags, '-o', out, join(sources, `${name}.c`)],
      { stdio: 'inherit' },
    );
    return out;
  };
  return {
    udpLoad: build('udp-load'),
    bareRelay: build('bare-relay'),
    bareRelayGso: build('bare-relay', join(dir, 'bare-relay-gso'), ['-DBARE_RELAY_GSO']),
    floorRelay: build('floor-relay', join(dir, 'floor-relay'), ['-pthread']),
  };
}

/** gamemesh's GSO counters over one throughput sample: how long the runs the load produces are. */
interface GsoSample {
  readonly sends: number;
  readonly segments: number;
  readonly fallbacks: number;
}

function gsoDelta(before: JsonObject, after: JsonObject): GsoSample {
  const diff = (name: string) => Number(after[name] ?? 0) - Number(before[name] ?? 0);
  return {
    sends: diff('tx_gso_sends'),
    segments: diff('tx_gso_segments'),
    fallbacks: diff('tx_gso_fallbacks'),
  };
}

/** A relay started as its own process, so its CPU and memory are its own. */
async function startRelay(name: CaseName, tool: Tool, port: number): Promise<RelayUnderTest> {
  await Promise.race([
    waitForUdpPort(port, 15_000),
    tool.exited.then((code) => Promise.reject(new Error(`${name} exited (${code}) at start`))),
  ]);
  return { name, port, process: tool };
}

async function main(): Promise<void> {
  const began = Date.now();
  // A busy machine depresses every case alike, but the absolute figures need this context.
  const loadAverageAtStart = loadavg();
  const work = mkdtempSync(join(tmpdir(), 'gamemesh-bench-relay-'));
  const relays: RelayUnderTest[] = [];
  const notes: string[] = [];
  let sessions: SessionsResult | null = null;
  let gamemeshCounters: JsonObject | null = null;
  let contextSwitch: ContextSwitchCost | null = null;
  const throughput = new Map<number, Round<ThroughputSample>[]>();
  const latency = new Map<number, Round<LatencySample>[]>();
  const gso = new Map<number, GsoSample>();
  try {
    const tools = buildTools(work);
    const sinkPort = await freeUdpPort();
    const upstream = `127.0.0.1:${sinkPort}`;
    relays.push({ name: 'direct', port: sinkPort, process: null });

    const barePort = await freeUdpPort();
    relays.push(
      await startRelay(
        'bare-c',
        start('bare-c', tools.bareRelay, [
          '--listen',
          `127.0.0.1:${barePort}`,
          '--upstream',
          upstream,
        ]),
        barePort,
      ),
    );

    const bareGsoPort = await freeUdpPort();
    relays.push(
      await startRelay(
        'bare-c-gso',
        start('bare-c-gso', tools.bareRelayGso, [
          '--listen',
          `127.0.0.1:${bareGsoPort}`,
          '--upstream',
          upstream,
        ]),
        bareGsoPort,
      ),
    );

    const floorPort = await freeUdpPort();
    relays.push(
      await startRelay(
        'floor',
        start('floor', tools.floorRelay, [
          '--listen',
          `127.0.0.1:${floorPort}`,
          '--upstream',
          upstream,
        ]),
        floorPort,
      ),
    );

    const gamemeshPort = await freeUdpPort();
    const gamemeshHost = fileURLToPath(new URL('./gamemesh-relay.js', import.meta.url));
    try {
      const tool = start(
        'gamemesh',
        process.execPath,
        [gamemeshHost, '--listen', `127.0.0.1:${gamemeshPort}`, '--upstream', upstream],
        {
          stdin: true,
        },
      );
      await tool.json((line) => line.ready === true, 15_000);
      relays.push({ name: 'gamemesh', port: gamemeshPort, process: tool });
    } catch (error) {
      notes.push(`gamemesh not measured: ${(error as Error).message}`);
    }

    const missing = nginxMissing();
    if (missing === undefined) {
      const nginxPort = await freeUdpPort();
      const nginxDir = join(work, 'nginx');
      mkdirSync(nginxDir);
      const { command, args } = nginxCommand(nginxDir, nginxPort, sinkPort);
      relays.push(await startRelay('nginx', start('nginx', command, args), nginxPort));
    } else {
      notes.push(`nginx not measured: ${missing}`);
    }

    const nodePort = await freeUdpPort();
    const nodeRelay = fileURLToPath(new URL('./node-relay.js', import.meta.url));
    relays.push(
      await startRelay(
        'node',
        start('node', process.execPath, [
          nodeRelay,
          '--listen',
          `127.0.0.1:${nodePort}`,
          '--upstream',
          upstream,
        ]),
        nodePort,
      ),
    );

    const settings: LoadSettings = {
      udpLoad: tools.udpLoad,
      sinkPort,
      sources: 8,
      warmupMs: quick ? 300 : 500,
      windowMs: quick ? 700 : 1500,
      pingCount: quick ? 5000 : 20_000,
      pingWarmup: 1000,
      allCpus: allCpus(),
    };
    const overBudget = (reserveMs: number) => Date.now() - began > TOTAL_BUDGET_MS - reserveMs;

    const throughputRelays = relays.filter((r) => !LATENCY_ONLY_CASES.has(r.name as CaseName));
    for (let round = 0; round < rounds && !overBudget(150_000); round++) {
      for (const payload of PAYLOADS) {
        const byCase: Partial<Record<CaseName, ThroughputSample>> = {};
        // Rotates the order every round: no case always runs right after the same one.
        for (const relay of rotate(throughputRelays, round)) {
          const host = relay.name === 'gamemesh' ? relay.process : null;
          // Counters are read outside the measured window (a stats request is a JS-thread call).
          const before = host === null ? null : await hostStats(host);
          byCase[relay.name as CaseName] = await measureThroughput(relay, payload, settings);
          let gsoNote = '';
          if (host !== null && before !== null) {
            const g = gsoDelta(before, await hostStats(host));
            const all = gso.get(payload) ?? { sends: 0, segments: 0, fallbacks: 0 };
            gso.set(payload, {
              sends: all.sends + g.sends,
              segments: all.segments + g.segments,
              fallbacks: all.fallbacks + g.fallbacks,
            });
            gsoNote = `, ${g.sends > 0 ? (g.segments / g.sends).toFixed(1) : '-'} segments/GSO send`;
          }
          log(
            `throughput round ${round + 1} ${payload} B ${relay.name}: ${Math.round(byCase[relay.name as CaseName]!.packetsPerSecond)} pkts/s${gsoNote}`,
          );
        }
        throughput.set(payload, [...(throughput.get(payload) ?? []), { byCase }]);
      }
    }
    // Measured next to the latency phase, on the same CPU: what two wake-ups cost on this machine now.
    contextSwitch = measureContextSwitch();
    log(`context switch: ${describeContextSwitch(contextSwitch)}`);
    for (let round = 0; round < rounds && !overBudget(90_000); round++) {
      for (const payload of PAYLOADS) {
        const byCase: Partial<Record<CaseName, LatencySample>> = {};
        for (const relay of rotate(relays, round)) {
          byCase[relay.name as CaseName] = await measureLatency(relay, payload, settings);
          const s = byCase[relay.name as CaseName]!;
          log(
            `latency round ${round + 1} ${payload} B ${relay.name}: p50 ${s.p50Us} us p99 ${s.p99Us} us`,
          );
        }
        latency.set(payload, [...(latency.get(payload) ?? []), { byCase }]);
      }
    }
    // gamemesh's own counters: proof that the measured flows were tracked natively as RTP sessions.
    const gamemesh = relays.find((r) => r.name === 'gamemesh')?.process;
    if (gamemesh !== undefined && gamemesh !== null) {
      gamemeshCounters = await hostStats(gamemesh).catch(() => null);
    }
    for (const relay of relays) await relay.process?.stop();
    if (relays.some((r) => r.name === 'gamemesh')) {
      sessions = await measureSessions({
        udpLoad: tools.udpLoad,
        gamemeshHost,
        sessions: quick ? 20_000 : 100_000,
      }).catch((error: unknown) => {
        notes.push(`sessions not measured: ${(error as Error).message}`);
        return null;
      });
    }
  } finally {
    await stopAll();
    rmSync(work, { recursive: true, force: true });
  }

  const cases = relays.map((r) => r.name as CaseName);
  const summaries = PAYLOADS.filter((p) => throughput.has(p)).map((p) =>
    summarize(p, throughput.get(p) ?? [], latency.get(p) ?? [], cases),
  );
  const targets = verdicts(summaries, sessions);
  printTable(summaries, cases, sessions, targets, {
    throughput: throughput.get(64)?.length ?? 0,
    latency: latency.get(64)?.length ?? 0,
  });
  if (gamemeshCounters !== null) {
    const c = gamemeshCounters;
    console.log(
      `\ngamemesh counters: ${c.sessions_opened} sessions opened (RTP tracker), ${c.tx_upstream_packets} datagrams forwarded, drops: socket-send ${c.drop_send_error}, queue ${c.drop_queue_full}, budget ${c.drop_source_budget}`,
    );
  }
  for (const [payload, g] of gso) {
    // The run length decides what GSO can save: datagrams per send, over gamemesh's throughput samples.
    console.log(
      `gamemesh GSO at ${payload} B: ${g.sends > 0 ? (g.segments / g.sends).toFixed(1) : '-'} segments per GSO send (${g.segments} of the datagrams in ${g.sends} sends; ${g.fallbacks} fallbacks)`,
    );
  }
  if (contextSwitch !== null) {
    console.log(`context switch on CPU 0: ${describeContextSwitch(contextSwitch)}`);
  }
  for (const note of notes) console.log(`note: ${note}`);
  console.log(
    `load average (1 min) at start ${loadAverageAtStart[0]?.toFixed(2)}, at end ${loadavg()[0]?.toFixed(2)} on ${availableParallelism()} CPUs`,
  );
  const record = {
    benchmark: 'data-plane',
    at: new Date().toISOString(),
    machine: {
      cpus: availableParallelism(),
      kernel: release(),
      node: process.version,
      loadAverageAtStart,
      loadAverageAtEnd: loadavg(),
    },
    durationMs: Date.now() - began,
    rounds,
    quick,
    summaries,
    gamemeshGso: Object.fromEntries(gso),
    sessions,
    gamemeshCounters,
    contextSwitch,
    targets,
    notes,
    raw: {
      throughput: Object.fromEntries(throughput),
      latency: Object.fromEntries(latency),
    },
  };
  const resultsDir = join(packageRoot(), 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `data-plane-${record.at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`\nresults: ${file} (${((Date.now() - began) / 1000).toFixed(0)} s)`);
}

function describeContextSwitch(cost: ContextSwitchCost): string {
  return cost.measured
    ? `${cost.usPerRoundTrip.toFixed(2)} us per round trip of two process switches (${cost.command})`
    : `not measured: ${cost.reason}`;
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % Math.max(1, items.length);
  return [...items.slice(k), ...items.slice(0, k)];
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

main().catch((error: unknown) => {
  console.error(`data-plane benchmark failed: ${(error as Error).stack ?? String(error)}`);
  // A benchmark reports; it does not gate. The failure is printed above.
  process.exitCode = 0;
});
