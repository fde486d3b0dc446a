import { createSocket, type Socket } from 'node:dgram';
import { Writable } from 'node:stream';
import { main, type RunningProxy } from '../../src/cli.js';

/** A running proxy started through the CLI entry point, with its log lines kept. */
export interface StartedProxy {
  readonly running: RunningProxy;
  readonly logs: Record<string, unknown>[];
  readonly stderr: string[];
}

export async function startProxy(argv: readonly string[]): Promise<StartedProxy> {
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const stdout = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n'))
        if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const errors = new Writable({
    write(chunk: Buffer, _encoding, done) {
      stderr.push(chunk.toString());
      done();
    },
  });
  const result = await main(['--admin', '127.0.0.1:0', '--pods', '127.0.0.1:0', ...argv], {
    stdout,
    stderr: errors,
  });
  if (typeof result === 'number') throw new Error(`proxy exited ${result}: ${stderr.join('')}`);
  return { running: result, logs, stderr };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function waitFor(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function bindUdp(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve(socket));
  });
}

export function closeUdp(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.close(() => resolve()));
}

/**
 * CLI arguments of one port-mode listener forwarding to one pod; datagrams
 * no protocol recognises are dropped so only tracked traffic crosses, and
 * the log is kept to warnings so test output stays readable.
 */
export function portModeArgs(
  listen: string,
  pod: string,
  options: { allowLoopback?: boolean } = {},
): string[] {
  return [
    '--listen',
    listen,
    '--to',
    pod,
    ...(options.allowLoopback === true ? ['--allow-loopback'] : []),
    '--unknown',
    'drop',
    '--log-level',
    'warn',
  ];
}

/** portModeArgs with both ends on 127.0.0.1, which the proxy refuses unless allowed. */
export function loopbackPortModeArgs(podPort: number): string[] {
  return portModeArgs('127.0.0.1:0', `127.0.0.1:${podPort}`, { allowLoopback: true });
}
