import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';

/**
 * A real `redis-server` (Debian package) on a free loopback port, without
 * persistence. Tests stop it in `finally`; a process exit hook kills it too,
 * so a crashed test never leaves it running.
 */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Stops the server (SIGKILL after a grace period); safe to call twice. */
  stop(): Promise<void>;
  /** Starts it again on the same port (after `stop`), for outage tests. */
  restart(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function launch(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--save', '', '--appendonly', 'no', '--port', String(port), '--bind', '127.0.0.1'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.once('exit', () => running.delete(child));
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 5000;
    const poll = async (): Promise<void> => {
      if (child.exitCode !== null || child.signalCode !== null) {
        reject(new Error(`redis-server exited: ${output.slice(-500)}`));
        return;
      }
      if (await accepts(port)) {
        resolve(child);
        return;
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        reject(new Error(`redis-server did not listen on ${port}: ${output.slice(-500)}`));
        return;
      }
      setTimeout(poll, 20);
    };
    child.once('error', (error) => reject(error));
    void poll();
  });
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(timer);
}

export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | null = await launch(port);
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    async stop() {
      const current = child;
      child = null;
      if (current !== null) await kill(current);
    },
    async restart() {
      if (child !== null) await kill(child);
      child = await launch(port);
    },
  };
}

/** Starts a server, runs `body`, and always stops the server. */
export async function withRedisServer<T>(body: (server: RedisServer) => Promise<T>): Promise<T> {
  const server = await startRedisServer();
  try {
    return await body(server);
  } finally {
    await server.stop();
  }
}
