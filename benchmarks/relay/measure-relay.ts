/**
 * One throughput or latency measurement through one relay, with the C load
 * generator (udp-load). The sink reads the relay's CPU time itself at the
 * edges of its measuring window, so packets and CPU cover the same interval.
 */
import { type JsonObject, number, pin, start, type Tool } from './processes.js';

export interface RelayUnderTest {
  readonly name: string;
  /** Where senders aim: the relay's listener, or the sink itself for the direct case. */
  readonly port: number;
  /** The relay process (null for the direct case). */
  readonly process: Tool | null;
}

export interface ThroughputSample {
  readonly packetsPerSecond: number;
  /** Relay CPU (all threads, user + system) per packet delivered; NaN for the direct case. */
  readonly cpuUsPerPacket: number;
  readonly sent: number;
  readonly delivered: number;
}

export interface LatencySample {
  readonly p50Us: number;
  readonly p99Us: number;
  readonly samples: number;
  readonly lost: number;
}

export interface LoadSettings {
  readonly udpLoad: string;
  readonly sinkPort: number;
  readonly sources: number;
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly pingCount: number;
  readonly pingWarmup: number;
  /** CPUs of the unpinned phases (restored after a pinned latency run). */
  readonly allCpus: string;
}

let ssrcGeneration = 0;

/** Saturating sender (N source ports, RTP headers) -> relay -> sink. */
export async function measureThroughput(
  relay: RelayUnderTest,
  payload: number,
  settings: LoadSettings,
): Promise<ThroughputSample> {
  const sinkArgs = [
    'sink',
    '--bind',
    `127.0.0.1:${settings.sinkPort}`,
    '--warmup-ms',
    String(settings.warmupMs),
    '--window-ms',
    String(settings.windowMs),
    '--timeout-ms',
    String(settings.warmupMs + settings.windowMs + 10_000),
  ];
  if (relay.process !== null) sinkArgs.push('--cpu-pid', String(relay.process.pid));
  const sink = start(`sink(${relay.name})`, settings.udpLoad, sinkArgs);
  let sender: Tool | undefined;
  try {
    await sink.json((line) => line.ready === true, 5000);
    // Fresh SSRCs per run: a relay never sees an old session's sequence numbers again.
    ssrcGeneration++;
    sender = start(`send(${relay.name})`, settings.udpLoad, [
      'send',
      '--target',
      `127.0.0.1:${relay.port}`,
      '--sources',
      String(settings.sources),
      '--payload',
      String(payload),
      '--duration-ms',
      String(settings.warmupMs + settings.windowMs + 2000),
      '--rtp',
      '--ssrc-base',
      String(0x10000000 + ssrcGeneration * 0x1000),
    ]);
    const result = await sink.json(
      (line) => line.mode === 'sink' && 'windowDone' in line,
      settings.warmupMs + settings.windowMs + 12_000,
    );
    await sender.stop();
    const sent = await sender
      .json((line) => line.mode === 'send', 3000)
      .catch((): JsonObject => ({}));
    if (result.windowDone !== true)
      throw new Error(`${relay.name}: the sink saw no traffic through the relay`);
    const packets = number(result, 'windowPackets');
    return {
      packetsPerSecond: number(result, 'windowPps'),
      cpuUsPerPacket:
        relay.process === null || packets === 0
          ? Number.NaN
          : number(result, 'relayCpuNs') / 1000 / packets,
      sent: number(sent, 'sent'),
      delivered: number(result, 'packets'),
    };
  } finally {
    await sender?.stop();
    await sink.stop();
  }
}

/**
 * Ping-pong through the relay to an echo server, every process on CPU 0: on
 * a small VM a cross-core wake-up alone costs tens of microseconds, which
 * would drown what the relay adds.
 */
export async function measureLatency(
  relay: RelayUnderTest,
  payload: number,
  settings: LoadSettings,
): Promise<LatencySample> {
  const echo = start(
    `echo(${relay.name})`,
    settings.udpLoad,
    ['echo', '--bind', `127.0.0.1:${settings.sinkPort}`],
    {
      cpus: '0',
    },
  );
  let ping: Tool | undefined;
  try {
    if (relay.process !== null) pin(relay.process.pid, '0');
    await echo.json((line) => line.ready === true, 5000);
    ssrcGeneration++;
    ping = start(
      `ping(${relay.name})`,
      settings.udpLoad,
      [
        'ping',
        '--target',
        `127.0.0.1:${relay.port}`,
        '--count',
        String(settings.pingCount),
        '--warmup',
        String(settings.pingWarmup),
        '--payload',
        String(payload),
        '--rtp',
        '--ssrc-base',
        String(0x20000000 + ssrcGeneration),
        '--timeout-ms',
        '30000',
      ],
      { cpus: '0' },
    );
    const result = await ping.json((line) => line.mode === 'ping', 35_000);
    return {
      p50Us: number(result, 'p50Us'),
      p99Us: number(result, 'p99Us'),
      samples: number(result, 'samples'),
      lost: number(result, 'lost'),
    };
  } finally {
    await ping?.stop();
    await echo.stop();
    if (relay.process !== null) {
      try {
        pin(relay.process.pid, settings.allCpus);
      } catch {
        // The relay exited; the caller notices on the next measurement.
      }
    }
  }
}
