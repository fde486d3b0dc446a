import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * A network namespace of the test's own, joined to the root namespace by a
 * veth pair with a chosen MTU on a private /30 of 10.202/16, for tests that
 * need a real path whose MTU is below loopback's. Needs root and iproute2;
 * without them it fails saying so, never skips. `remove()` kills what was
 * started inside and deletes the pair and the namespace.
 */
export interface MtuNamespace {
  readonly hostAddress: string;
  readonly nsAddress: string;
  /** Starts a process inside the namespace (killed by remove()). */
  spawn(command: string, args: readonly string[]): ChildProcess;
  remove(): Promise<void>;
}

const run = promisify(execFile);

async function tool(args: readonly string[]): Promise<string> {
  try {
    return (await run('ip', [...args], { timeout: 10_000 })).stdout;
  } catch (error) {
    const { code, stderr } = error as { code?: unknown; stderr?: unknown };
    if (code === 'ENOENT') throw new Error('ip (iproute2) is not installed: this test needs it');
    throw new Error(`ip ${args.join(' ')} failed: ${String(stderr ?? error)}`.trim());
  }
}

async function quietly(args: readonly string[]): Promise<void> {
  try {
    await run('ip', [...args], { timeout: 10_000 });
  } catch {
    // Absent is the state wanted.
  }
}

function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

export async function createMtuNamespace(mtu: number): Promise<MtuNamespace> {
  if (process.getuid?.() !== 0)
    throw new Error(
      'this test creates a network namespace and a veth pair: run it as root (CI does)',
    );
  const name = `gm-gso-${process.pid}`;
  const hostIf = `gmg${process.pid}h`;
  const nsIf = `gmg${process.pid}n`;
  // A run killed before its cleanup leaves these behind under the same names.
  await quietly(['link', 'del', hostIf]);
  await quietly(['netns', 'del', name]);
  const index = process.pid % 16_384;
  const base = `10.202.${index >> 6}.`;
  const hostAddress = `${base}${(index & 63) * 4 + 1}`;
  const nsAddress = `${base}${(index & 63) * 4 + 2}`;
  const children: ChildProcess[] = [];
  const remove = async (): Promise<void> => {
    await Promise.all(children.map(killAndWait));
    await quietly(['link', 'del', hostIf]);
    await quietly(['netns', 'del', name]);
  };
  try {
    await tool(['netns', 'add', name]);
    await tool(['link', 'add', hostIf, 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', nsIf]);
    await tool(['link', 'set', nsIf, 'netns', name]);
    await tool(['addr', 'add', `${hostAddress}/30`, 'dev', hostIf]);
    await tool(['link', 'set', hostIf, 'up']);
    const inNs = (args: readonly string[]) => tool(['netns', 'exec', name, 'ip', ...args]);
    await inNs(['link', 'set', nsIf, 'mtu', String(mtu)]);
    await inNs(['addr', 'add', `${nsAddress}/30`, 'dev', nsIf]);
    await inNs(['link', 'set', nsIf, 'up']);
    await inNs(['link', 'set', 'lo', 'up']);
  } catch (error) {
    await remove();
    throw error;
  }
  return {
    hostAddress,
    nsAddress,
    spawn(command, args) {
      const child = spawn('ip', ['netns', 'exec', name, command, ...args], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      return child;
    },
    remove,
  };
}
