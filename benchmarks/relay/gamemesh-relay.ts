/**
 * gamemesh under benchmark: the native data plane in a process of its own
 * (so its CPU and RSS are its own, like every other relay's). Listeners are
 * port-mode with the RTP tracker fixed, so every measured flow is opened as
 * an RTP session and every datagram goes through the native tracker
 * (sequence/loss per RFC 3550 A.1/A.3, jitter per A.8 at the 8 kHz clock of
 * the PCMU payload type the load generator sends).
 *
 *   node gamemesh-relay.js --listen 127.0.0.1:PORT --upstream 127.0.0.1:PORT [--threads N]
 *   node gamemesh-relay.js --sessions N --listen-base PORT --listeners L --pod-port PORT
 *     (L listeners on consecutive ports, listener i -> pod 127.0.0.(i+1):PORT)
 *
 * Prints {"ready":true,...} once listening. Commands on stdin: "stats ID"
 * answers {"id":ID,"counters":{...},"rtpSessions":[...]} from shared memory.
 * SIGTERM closes the data plane (sessions close with proxy_shutdown).
 */
import { createInterface } from 'node:readline';
import { createDataPlane, type DataPlane, type SessionSnapshot } from '@gamemesh/native';

function option(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

function endpoint(text: string | undefined, name: string): { address: string; port: number } {
  const match = text === undefined ? null : /^(.+):(\d+)$/.exec(text);
  if (match === null) throw new Error(`${name} must be HOST:PORT`);
  return { address: match[1]!, port: Number(match[2]) };
}

/** The RTP tracker's clock for the load generator's payload type 0 (PCMU, RFC 3551). */
const RTP_TRACKER = { clockRateHz: 8000 } as const;

function startRelay(): { plane: DataPlane; ready: Record<string, unknown> } {
  const threads = Number(option('--threads') ?? 1);
  const plane = createDataPlane({
    threads,
    maxSessions: 65_536,
    idleTimeoutMs: 120_000,
    batchSize: 64,
  });
  const listener = plane.addListener({
    address: '127.0.0.1',
    port: endpoint(option('--listen'), '--listen').port,
    mode: 'port',
    upstream: endpoint(option('--upstream'), '--upstream'),
    protocol: 'rtp',
    tracker: RTP_TRACKER,
  });
  return { plane, ready: { ready: true, port: listener.port, threads } };
}

function startSessions(): { plane: DataPlane; ready: Record<string, unknown> } {
  const sessions = Number(option('--sessions'));
  const base = Number(option('--listen-base'));
  const listeners = Number(option('--listeners'));
  const podPort = Number(option('--pod-port'));
  // Measured from before creation, so whatever creation allocates and touches is counted too.
  const rssBeforePlane = process.memoryUsage.rss();
  const plane = createDataPlane({
    threads: 1,
    maxSessions: sessions,
    // Sessions must outlive the measurement: nothing is sent after the first datagram.
    idleTimeoutMs: 600_000,
    batchSize: 64,
  });
  for (let i = 0; i < listeners; i++) {
    plane.addListener({
      address: '127.0.0.1',
      port: base + i,
      mode: 'port',
      upstream: { address: `127.0.0.${i + 1}`, port: podPort },
      protocol: 'rtp',
      tracker: RTP_TRACKER,
    });
  }
  // The data plane's own accounting: entries are touched per session, the indexes are sized to the capacity.
  const memory = plane.memoryUsage();
  return {
    plane,
    ready: {
      ready: true,
      listeners,
      capacity: sessions,
      rssBeforePlane,
      rssAfterPlane: process.memoryUsage.rss(),
      flowEntryBytes: memory.flowEntryBytes,
      indexBytesPerSession: memory.indexBytes / memory.capacity,
      sharedBytesPerSession: memory.sharedBytes / memory.capacity,
    },
  };
}

const { plane, ready } = option('--sessions') === undefined ? startRelay() : startSessions();

// The slots of the latest RTP sessions: their shared stats show the tracker at work.
const recentSlots: number[] = [];
plane.on('opened', (session) => {
  if (session.protocol !== 'rtp') return;
  recentSlots.push(session.slot);
  if (recentSlots.length > 4) recentSlots.shift();
});

function sessionView(snapshot: SessionSnapshot | null): Record<string, unknown> | null {
  if (snapshot === null) return null;
  return {
    protocol: snapshot.protocol,
    state: snapshot.state,
    packets: snapshot.packets,
    stats: snapshot.stats,
  };
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, id] = line.trim().split(/\s+/);
  if (command !== 'stats') return;
  const reply = {
    id: Number(id),
    counters: plane.counters(),
    rtpSessions: recentSlots.map((slot) => sessionView(plane.session(slot))),
  };
  process.stdout.write(`${JSON.stringify(reply)}\n`);
});

process.on('SIGTERM', () => {
  plane.close();
  process.exit(0);
});
process.stdout.write(`${JSON.stringify(ready)}\n`);
