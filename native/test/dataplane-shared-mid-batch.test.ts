import { type ChildProcess, spawn } from 'node:child_process';
import type { RemoteInfo, Socket } from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bindSocket, closeSocket, sleep, waitFor } from './dataplane/support.js';

/**
 * An upstream socket connected to its one pod is disconnected when it takes
 * a flow to a second pod. On a port-mode listener that can happen in the
 * middle of a batch: after `setUpstream`, a new client's first datagram is
 * read in the same recvmmsg as datagrams of an older flow, which were queued
 * for the socket's connected destination (no address). Those must still
 * reach the first pod, and the new flow's datagram the second, from the same
 * local port.
 *
 * The batch is made deterministic by running the data plane in a child
 * process and stopping it (SIGSTOP) while the datagrams are sent: the
 * listener's socket holds them all, and the I/O thread reads them in one
 * recvmmsg when the process continues.
 */

const HOST = '127.0.0.1';
const BURST = 8;

/** The data plane's side: a port-mode listener; stdin commands `switch`, `counters`, `close`. */
const DATA_PLANE = `
  const { createDataPlane } = await import(process.argv[1]);
  const { createInterface } = await import('node:readline');
  const [pod1, pod2] = [Number(process.argv[2]), Number(process.argv[3])];
  const say = (message) => process.stdout.write(JSON.stringify(message) + '\\n');
  const dp = createDataPlane({ threads: 1, maxSessions: 16, batchSize: 64 });
  const listener = dp.addListener({
    address: '${HOST}', mode: 'port', protocol: 'none', upstream: { address: '${HOST}', port: pod1 },
  });
  say({ port: listener.port });
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'switch') {
      dp.setUpstream(listener.id, { address: '${HOST}', port: pod2 });
      say({ switched: true });
    } else if (line === 'counters') {
      say({ counters: dp.counters() });
    } else if (line === 'close') {
      dp.close();
      process.exit(0);
    }
  });
`;

type Message = Record<string, unknown>;

interface DataPlaneProcess {
  readonly child: ChildProcess;
  /** Sends a command and resolves with the first reply that has `key`. */
  ask(command: string, key: string): Promise<Message>;
  readonly exited: Promise<void>;
}

function startDataPlane(pod1: number, pod2: number): DataPlaneProcess {
  const index = new URL('../ts/index.js', import.meta.url).href;
  // process.execArgv carries the TS loader when the tests run from sources.
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      '--input-type=module',
      '-e',
      DATA_PLANE,
      index,
      String(pod1),
      String(pod2),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const messages: Message[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    messages.push(JSON.parse(line) as Message);
    for (const wake of waiters.splice(0)) wake();
  });
  const next = async (key: string): Promise<Message> => {
    for (;;) {
      const found = messages.findIndex((m) => key in m);
      if (found >= 0) return messages.splice(found, 1)[0]!;
      if (child.exitCode !== null)
        throw new Error(`the data plane process exited (${child.exitCode})`);
      await Promise.race([new Promise<void>((resolve) => waiters.push(resolve)), sleep(50)]);
    }
  };
  return {
    child,
    exited,
    async ask(command, key) {
      if (command !== '') child.stdin!.write(`${command}\n`);
      return Promise.race([
        next(key),
        sleep(10_000).then(() => Promise.reject(new Error(`no reply with ${key}`))),
      ]);
    },
  };
}

/** Whether every thread of `pid` is stopped (SIGSTOP takes effect per thread, after kill() returns). */
function allThreadsStopped(pid: number): boolean {
  return readdirSync(`/proc/${pid}/task`).every((task) => {
    const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
  });
}

async function stopDataPlane(dp: DataPlaneProcess): Promise<void> {
  if (dp.child.exitCode !== null || dp.child.signalCode !== null) return;
  dp.child.kill('SIGCONT');
  dp.child.stdin!.write('close\n');
  const closed = await Promise.race([dp.exited.then(() => true), sleep(5000).then(() => false)]);
  if (!closed) {
    dp.child.kill('SIGKILL');
    await dp.exited;
  }
}

interface Peer {
  readonly socket: Socket;
  readonly received: Array<{ data: Uint8Array; from: RemoteInfo }>;
}

async function peer(): Promise<Peer> {
  const socket = await bindSocket('udp4', HOST);
  const received: Peer['received'] = [];
  socket.on('message', (data, from) => received.push({ data: new Uint8Array(data), from }));
  return { socket, received };
}

const send = (from: Socket, data: Uint8Array, port: number) =>
  new Promise<void>((resolve, reject) =>
    from.send(data, port, HOST, (error) => (error ? reject(error) : resolve())),
  );

function datagram(tag: number, size: number): Uint8Array {
  return new Uint8Array(size).fill(tag);
}

test('datagrams queued for a connected socket still reach its pod when a second pod joins it mid-batch', async () => {
  const pods = [await peer(), await peer()];
  const clients = [await peer(), await peer()];
  const dp = startDataPlane(pods[0]!.socket.address().port, pods[1]!.socket.address().port);
  try {
    const { port } = (await dp.ask('', 'port')) as { port: number };
    // Client A's flow: the upstream socket carries one flow, so it is connected to pod 1.
    await send(clients[0]!.socket, datagram(0xa0, 600), port);
    await waitFor('the opening datagram at pod 1', () => pods[0]!.received.length === 1);
    const upstreamPort = pods[0]!.received[0]!.from.port;
    await dp.ask('switch', 'switched');

    // One batch: A's burst (queued for the connected socket), then client B's first datagram (pod 2).
    dp.child.kill('SIGSTOP');
    await waitFor('the data plane process stopped', () => allThreadsStopped(dp.child.pid!));
    const burst = Array.from({ length: BURST }, (_, i) => datagram(0xa1 + i, 600));
    for (const payload of burst) await send(clients[0]!.socket, payload, port);
    await send(clients[1]!.socket, datagram(0xb0, 300), port);
    dp.child.kill('SIGCONT');

    // A datagram lost here is counted: the counters say where it went.
    await waitFor('the burst at pod 1 and the new flow at pod 2', () => {
      return pods[0]!.received.length === 1 + BURST && pods[1]!.received.length === 1;
    }).catch(() => undefined);
    await sleep(20); // a duplicate would arrive right behind
    const { counters } = (await dp.ask('counters', 'counters')) as {
      counters: Record<string, number>;
    };
    const seen = `pod 1 got ${pods[0]!.received.length - 1} of ${BURST}, pod 2 ${pods[1]!.received.length}; drop_send_error ${counters.drop_send_error}`;
    assert.is(counters.drop_send_error, 0, `nothing deliverable was dropped (${seen})`);
    assert.equal(
      pods[0]!.received.slice(1).map((r) => r.data),
      burst,
      'pod 1 got the burst, in order',
    );
    assert.is(pods[0]!.received.length, 1 + BURST);
    assert.equal(pods[1]!.received[0]!.data, datagram(0xb0, 300));
    // The scenario really happened: the new flow took the first flow's socket (now shared).
    assert.is(pods[1]!.received[0]!.from.port, upstreamPort, 'both pods see the same local port');
    assert.ok(
      pods[0]!.received.every((r) => r.from.port === upstreamPort),
      'the first flow kept its port',
    );

    // The shared socket receives from both pods: replies reach their clients.
    pods[0]!.socket.send(datagram(0xc0, 100), upstreamPort, HOST);
    pods[1]!.socket.send(datagram(0xc1, 100), upstreamPort, HOST);
    await waitFor('both replies', () => clients.every((c) => c.received.length === 1));
    assert.equal(clients[0]!.received[0]!.data, datagram(0xc0, 100));
    assert.equal(clients[1]!.received[0]!.data, datagram(0xc1, 100));

    assert.is(counters.tx_upstream_packets, 2 + BURST);
    // The burst left as one GSO send, on the still-connected socket, before the socket changed.
    assert.is(counters.tx_gso_sends, 1);
    assert.is(counters.tx_gso_segments, BURST);
    assert.is(counters.tx_gso_fallbacks, 0);
  } finally {
    await stopDataPlane(dp);
    for (const p of [...pods, ...clients]) await closeSocket(p.socket);
  }
});

test.run();
