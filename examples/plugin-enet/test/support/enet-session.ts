import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Datagram } from '@gamemesh/core';
import { packageRoot } from './package-root.js';
import { startRecordingRelay } from './recording-relay.js';

/**
 * One real ENet session: `test/peer/enet-peer.c` compiled against the
 * system's libenet, server and client as separate processes, talking
 * through a recording relay on loopback. Needs `cc` and libenet-dev.
 */

export interface EnetSessionOptions {
  /** Reliable and unreliable packets the client sends (each), echoed by the server. */
  readonly count: number;
  readonly checksum?: boolean;
  readonly loseAfterSeen?: (datagram: Datagram) => boolean;
}

export interface EnetSession {
  readonly datagrams: readonly Datagram[];
  /** What libenet reported in each process ("key value" lines), e.g. `connect_id`. */
  readonly client: ReadonlyMap<string, number>;
  readonly server: ReadonlyMap<string, number>;
}

const PROCESS_DEADLINE_MS = 15_000;

interface Peer {
  readonly child: ChildProcess;
  readonly report: Map<string, number>;
  /** Resolves with the exit code; rejects after the deadline. */
  readonly exited: Promise<number | null>;
  /** Resolves when the peer has printed `key`. */
  waitFor(key: string): Promise<number>;
}

function startPeer(binary: string, args: readonly string[]): Peer {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const report = new Map<string, number>();
  const waiters: { key: string; resolve: (value: number) => void }[] = [];
  let buffered = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    buffered += chunk;
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const [key, value] = buffered.slice(0, newline).split(' ');
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
      if (key === undefined || value === undefined) continue;
      report.set(key, Number(value));
      for (const waiter of waiters.filter((w) => w.key === key)) waiter.resolve(Number(value));
    }
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`enet-peer ${args[0]} timed out`)),
      PROCESS_DEADLINE_MS,
    );
    // 'close', not 'exit': the last report lines may still be in the stdout pipe at exit.
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  const waitFor = (key: string): Promise<number> => {
    const known = report.get(key);
    if (known !== undefined) return Promise.resolve(known);
    return Promise.race([
      new Promise<number>((resolve) => waiters.push({ key, resolve })),
      exited.then((code) =>
        Promise.reject(new Error(`enet-peer exited (${code}) before "${key}"`)),
      ),
    ]);
  };
  return { child, report, exited, waitFor };
}

function stop(peer: Peer | null): void {
  if (peer !== null && peer.child.exitCode === null && peer.child.signalCode === null)
    peer.child.kill();
}

/**
 * A peer's last datagrams can still be in the relay's socket when its exit
 * is reported: wait (bounded) until the relay holds as many datagrams per
 * direction as libenet says it sent.
 */
async function recordedAll(
  datagrams: readonly Datagram[],
  client: ReadonlyMap<string, number>,
  server: ReadonlyMap<string, number>,
): Promise<void> {
  const expected = {
    forward: client.get('sent_datagrams') ?? 0,
    reverse: server.get('sent_datagrams') ?? 0,
  };
  const deadline = Date.now() + 1000;
  while (Date.now() < deadline) {
    const seen = { forward: 0, reverse: 0 };
    for (const datagram of datagrams) seen[datagram.direction]++;
    if (seen.forward >= expected.forward && seen.reverse >= expected.reverse) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Compiles `test/peer/<name>.c` against libenet into `dir`; returns the binary's path. */
export function compileAgainstLibenet(name: string, dir: string): string {
  const binary = join(dir, name);
  const source = join(packageRoot(), 'test', 'peer', `${name}.c`);
  execFileSync('cc', ['-O2', '-Wall', '-o', binary, source, '-lenet'], { stdio: 'inherit' });
  return binary;
}

export async function runEnetSession(options: EnetSessionOptions): Promise<EnetSession> {
  const dir = mkdtempSync(join(tmpdir(), 'gamemesh-enet-'));
  const flags = options.checksum === true ? ['--checksum'] : [];
  let server: Peer | null = null;
  let client: Peer | null = null;
  let relay: Awaited<ReturnType<typeof startRecordingRelay>> | null = null;
  try {
    const binary = compileAgainstLibenet('enet-peer', dir);
    server = startPeer(binary, ['server', ...flags]);
    const serverPort = await server.waitFor('port');
    relay = await startRecordingRelay(
      options.loseAfterSeen === undefined
        ? { serverPort }
        : { serverPort, loseAfterSeen: options.loseAfterSeen },
    );
    client = startPeer(binary, ['client', String(relay.port), String(options.count), ...flags]);
    const [clientCode, serverCode] = await Promise.all([client.exited, server.exited]);
    if (clientCode !== 0 || serverCode !== 0) {
      throw new Error(`enet-peer failed: client ${clientCode}, server ${serverCode}`);
    }
    await recordedAll(relay.datagrams, client.report, server.report);
    return { datagrams: [...relay.datagrams], client: client.report, server: server.report };
  } finally {
    stop(client);
    stop(server);
    await relay?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
