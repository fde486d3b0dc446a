/**
 * 100k concurrent sessions in gamemesh's flow table. Sessions come from
 * distinct loopback sources (127.77.x.y, 127.0.0.0/8 is all loopback), one
 * RTP datagram each, spread over several listeners whose upstreams are
 * distinct pods: a local upstream port only has to be unique per
 * destination, so N sessions over D pods need about N / D upstream sockets
 * (the process file limit here is 20k). Memory per session is the host's
 * RSS growth over the sessions, next to the table's own accounting.
 */
import { freeUdpPort, freeUdpPortRange } from './ports.js';
import { type JsonObject, number, rssBytes, sleep, start, type Tool } from './processes.js';
import type { SessionsResult } from './report.js';

export interface SessionsSettings {
  readonly udpLoad: string;
  readonly gamemeshHost: string;
  readonly sessions: number;
}

const LISTENERS = 16;

export async function measureSessions(settings: SessionsSettings): Promise<SessionsResult> {
  const podPort = await freeUdpPort();
  const listenBase = await freeUdpPortRange(LISTENERS);
  // One sink on the wildcard address is every pod 127.0.0.k:podPort at once.
  const sink = start('sessions-sink', settings.udpLoad, [
    'sink',
    '--bind',
    `0.0.0.0:${podPort}`,
    '--timeout-ms',
    '120000',
    '--warmup-ms',
    '100000',
  ]);
  let host: Tool | undefined;
  try {
    await sink.json((line) => line.ready === true, 5000);
    host = start(
      'gamemesh-sessions',
      process.execPath,
      [
        settings.gamemeshHost,
        '--sessions',
        String(settings.sessions),
        '--listen-base',
        String(listenBase),
        '--listeners',
        String(LISTENERS),
        '--pod-port',
        String(podPort),
      ],
      { stdin: true },
    );
    const ready = await host.json((line) => line.ready === true, 15_000);
    const rssBefore = number(ready, 'rssBeforePlane');
    let stats = await hostStats(host);
    // Two passes over the same sources: the second only creates what a full socket buffer dropped in the first.
    for (let pass = 0; pass < 3 && number(stats, 'flows_active') < settings.sessions; pass++) {
      const flood = start('sessions-spray', settings.udpLoad, [
        'flood',
        '--target',
        `127.0.0.1:${listenBase}`,
        '--targets',
        String(LISTENERS),
        '--total',
        String(settings.sessions),
        '--sources-per-gen',
        '1000',
        '--per-source',
        '1',
        '--net',
        '77',
        '--rtp',
        '--payload',
        '64',
        '--rate',
        '60000',
      ]);
      await flood.json((line) => line.mode === 'flood', 60_000);
      await sleep(500);
      stats = await hostStats(host);
    }
    const rssAfter = rssBytes(host.pid);
    const established = number(stats, 'flows_active');
    const entry = number(ready, 'flowEntryBytes');
    const index = number(ready, 'indexBytesPerSession');
    const shared = number(ready, 'sharedBytesPerSession');
    return {
      requested: settings.sessions,
      established,
      rssDeltaBytes: rssAfter - rssBefore,
      rssBytesPerSession: established > 0 ? (rssAfter - rssBefore) / established : Number.NaN,
      tableBytesPerSession: entry + index,
      sharedBytesPerSession: shared,
      upstreamSockets: number(stats, 'upstream_sockets'),
      note:
        `RSS from before createDataPlane() to ${established} open sessions (capacity ${number(ready, 'capacity')}: ` +
        `+${((number(ready, 'rssAfterPlane') - rssBefore) / 1048576).toFixed(1)} MiB at creation, before any traffic); ` +
        `native accounting: entry ${entry} B + index ${index.toFixed(1)} B + shared counters ${shared.toFixed(3)} B = ${(entry + index + shared).toFixed(0)} B/session ` +
        `(session stats are snapshots computed on request, not kept per session); ` +
        `${LISTENERS} listeners to ${LISTENERS} pods; kernel socket memory not included`,
    };
  } finally {
    await host?.stop();
    await sink.stop();
  }
}

let requestId = 0;

/** Asks the host for its counters (summed over I/O threads). */
export async function hostStats(host: Tool): Promise<JsonObject> {
  const id = ++requestId;
  host.write(`stats ${id}`);
  const reply = await host.json((line) => line.id === id, 5000);
  const counters = reply.counters;
  return typeof counters === 'object' && counters !== null ? (counters as JsonObject) : {};
}
