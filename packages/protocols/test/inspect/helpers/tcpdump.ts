import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { readFile } from 'node:fs/promises';

/**
 * Real captures for tests: tcpdump on loopback records what node:dgram
 * sockets send, so the reader is checked against bytes the kernel framed.
 */

export interface TcpdumpOptions {
  readonly file: string;
  /** Capture filter; keep it narrow (a port) so unrelated traffic stays out. */
  readonly filter: string;
  readonly iface?: 'lo' | 'any';
  /** `-y` data link type, e.g. LINUX_SLL or LINUX_SLL2 (with iface `any`). */
  readonly linkType?: string;
  readonly snaplen?: number;
  readonly nanoseconds?: boolean;
  /** Frames the traffic produces: tcpdump is stopped only once the file holds them (or after 5 s). */
  readonly expectedFrames?: number;
}

/** Starts tcpdump, runs `traffic`, stops tcpdump with SIGINT and waits for it to exit. */
export async function captureWith<T>(
  options: TcpdumpOptions,
  traffic: () => Promise<T>,
): Promise<T> {
  const args = [
    '-i',
    options.iface ?? 'lo',
    '-w',
    options.file,
    '-U',
    '-n',
    '-Z',
    'root',
    '--immediate-mode',
    '-B',
    '32768',
  ];
  if (options.linkType !== undefined) args.push('-y', options.linkType);
  if (options.snaplen !== undefined) args.push('-s', String(options.snaplen));
  if (options.nanoseconds === true) args.push('--time-stamp-precision=nano');
  args.push(options.filter);
  const child = spawn('tcpdump', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  try {
    await listening(child);
    // tcpdump reports "listening" as it activates the capture; on `any` the
    // per-interface sockets can still be attaching for a moment after it.
    await delay(options.iface === 'any' ? 300 : 100);
    const result = await traffic();
    // SIGINT drops what tcpdump has not yet taken from the kernel, so wait for the file to hold it all.
    const deadline = Date.now() + 5000;
    while (options.expectedFrames !== undefined && Date.now() < deadline) {
      if (
        countRecords(await readFile(options.file).catch(() => new Uint8Array(0))) >=
        options.expectedFrames
      )
        break;
      await delay(50);
    }
    await delay(100);
    return result;
  } finally {
    if (child.exitCode === null) child.kill('SIGINT');
    await exited;
    if (process.env.GM_TCPDUMP_LOG === '1') process.stderr.write(log);
  }
}

function listening(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${text}`)), 10_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tcpdump exited with ${code}: ${text}`));
    });
  });
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface Exchange {
  readonly serverPort: number;
  readonly clientPort: number;
  /** Every payload in wire order: request i, then its echo. */
  readonly sent: { readonly direction: 'forward' | 'reverse'; readonly data: Uint8Array }[];
}

/**
 * A client sends each payload to an echo server and waits for the echo
 * before the next one, so wire order is known. `reply` shapes the echo.
 */
export async function echoExchange(
  family: 'udp4' | 'udp6',
  payloads: readonly Uint8Array[],
  options: { serverPort?: number; reply?: (request: Uint8Array) => Uint8Array | null } = {},
): Promise<Exchange> {
  const host = family === 'udp4' ? '127.0.0.1' : '::1';
  const server = createSocket(family);
  const client = createSocket(family);
  const sent: { direction: 'forward' | 'reverse'; data: Uint8Array }[] = [];
  try {
    await bind(server, host, options.serverPort ?? 0);
    await bind(client, host, 0);
    const serverPort = server.address().port;
    const reply = options.reply ?? ((request: Uint8Array) => request);
    server.on('message', (data, from) => {
      const answer = reply(new Uint8Array(data));
      if (answer !== null) server.send(answer, from.port, from.address);
    });
    for (const payload of payloads) {
      const answer = reply(payload);
      const echoed = answer === null ? Promise.resolve() : nextMessage(client);
      sent.push({ direction: 'forward', data: payload });
      await new Promise<void>((resolve, reject) =>
        client.send(payload, serverPort, host, (error) => (error ? reject(error) : resolve())),
      );
      await echoed;
      if (answer !== null) sent.push({ direction: 'reverse', data: answer });
    }
    return { serverPort, clientPort: client.address().port, sent };
  } finally {
    await Promise.all([close(server), close(client)]);
  }
}

function bind(socket: Socket, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => resolve());
  });
}

function nextMessage(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('echo timed out')), 5000);
    socket.once('message', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function close(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

/** A UDP port free right now on loopback (for a capture filter chosen before the exchange). */
export async function freePort(family: 'udp4' | 'udp6' = 'udp4'): Promise<number> {
  const socket = createSocket(family);
  try {
    await bind(socket, family === 'udp4' ? '127.0.0.1' : '::1', 0);
    return socket.address().port;
  } finally {
    await close(socket);
  }
}

/** Complete records in a little-endian pcap that tcpdump is still writing. */
function countRecords(file: Uint8Array): number {
  if (file.length < 24) return 0;
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let count = 0;
  for (let o = 24; o + 16 <= file.length; count++) {
    const next = o + 16 + view.getUint32(o + 8, true);
    if (next > file.length) break;
    o = next;
  }
  return count;
}
