import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * A network namespace of the test's own, joined to the root namespace by a
 * veth pair on a private /30, for tests that need a real network path the
 * kernel can impair (nftables rules inside the namespace). The addresses
 * exist only on this pair; nothing leaves the machine. Needs root and the
 * `ip` (iproute2) and `nft` (nftables) tools, which CI installs and runs as
 * root: without them this fails with a message saying so, never skips.
 */
export interface VethNamespace {
  readonly name: string;
  /** The root-namespace end of the pair (where the test's own sockets bind). */
  readonly hostAddress: string;
  /** The namespace's end; processes started with `spawn` send from it. */
  readonly nsAddress: string;
  /** The namespace's end of the pair, for a netdev-family chain on it. */
  readonly nsInterface: string;
  /** Loads an nftables ruleset (`nft -f -`) inside the namespace. */
  nft(ruleset: string): Promise<void>;
  /** Packets counted by each rule of `table` that has a comment, by comment. */
  ruleCounters(family: 'inet' | 'netdev', table: string): Promise<Map<string, number>>;
  /** Starts `command` inside the namespace; `remove()` kills it if it is still running. */
  spawn(command: string, args: readonly string[]): NamespaceProcess;
  /** Kills what `spawn` started, deletes the veth pair and the namespace (its nftables with it). Idempotent. */
  remove(): Promise<void>;
}

export interface NamespaceProcess {
  readonly child: ChildProcess;
  /** Resolves when the process exits with 0; rejects with its stderr otherwise or after `timeoutMs`. */
  finished(timeoutMs: number): Promise<void>;
}

const run = promisify(execFile);

/** 10.201.0.0/16 is carved into /30s; the index comes from the pid so parallel test processes differ. */
const SUBNET_PREFIX = '10.201';
const SUBNETS = 16_384;

async function tool(command: string, args: readonly string[]): Promise<string> {
  try {
    return (await run(command, [...args], { timeout: 10_000 })).stdout;
  } catch (error) {
    const { code, stderr } = error as { code?: unknown; stderr?: unknown };
    if (code === 'ENOENT')
      throw new Error(
        `${command} is not installed: this test needs iproute2 and nftables (apt-get install -y nftables iproute2, as .ci/run does)`,
      );
    throw new Error(`${command} ${args.join(' ')} failed: ${String(stderr ?? error)}`.trim());
  }
}

async function quietly(command: string, args: readonly string[]): Promise<void> {
  try {
    await run(command, [...args], { timeout: 10_000 });
  } catch {
    // Absent is the state wanted.
  }
}

async function requirePrivileges(): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new Error(
      'this test creates a network namespace, a veth pair and nftables rules: run it as root (CI does)',
    );
  await tool('ip', ['-V']);
  await tool('nft', ['--version']);
}

/** A /30 of 10.201/16 no interface of the root namespace uses yet, starting from the pid's. */
async function freeSubnet(): Promise<{ host: string; ns: string }> {
  const used = await tool('ip', ['-4', '-o', 'addr', 'show']);
  for (let i = 0; i < SUBNETS; i++) {
    const index = (process.pid + i) % SUBNETS;
    const base = `${SUBNET_PREFIX}.${index >> 6}.`;
    const first = (index & 63) * 4;
    const host = `${base}${first + 1}`;
    if (!used.includes(` ${host}/`)) return { host, ns: `${base}${first + 2}` };
  }
  throw new Error(`no free /30 left in ${SUBNET_PREFIX}.0.0/16`);
}

export async function createVethNamespace(): Promise<VethNamespace> {
  await requirePrivileges();
  const name = `gm-test-${process.pid}`;
  const hostIf = `gmt${process.pid}h`;
  const nsIf = `gmt${process.pid}n`;
  // A run killed before its cleanup leaves these behind under the same names.
  await quietly('ip', ['link', 'del', hostIf]);
  await quietly('ip', ['netns', 'del', name]);
  const children = new Set<ChildProcess>();
  let removed = false;
  const remove = async (): Promise<void> => {
    if (removed) return;
    removed = true;
    await Promise.all([...children].map(killAndWait));
    // Deleting one end deletes the pair at once; the namespace's own teardown would do it later.
    await quietly('ip', ['link', 'del', hostIf]);
    await quietly('ip', ['netns', 'del', name]);
    const left = await tool('ip', ['netns', 'list']);
    if (left.split('\n').some((line) => line.split(' ')[0] === name))
      throw new Error(`network namespace ${name} could not be removed`);
  };
  try {
    const { host, ns } = await freeSubnet();
    await tool('ip', ['netns', 'add', name]);
    await tool('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
    await tool('ip', ['link', 'set', nsIf, 'netns', name]);
    await tool('ip', ['addr', 'add', `${host}/30`, 'dev', hostIf]);
    await tool('ip', ['link', 'set', hostIf, 'up']);
    const inNs = (args: readonly string[]) => tool('ip', ['netns', 'exec', name, ...args]);
    await inNs(['ip', 'addr', 'add', `${ns}/30`, 'dev', nsIf]);
    await inNs(['ip', 'link', 'set', nsIf, 'up']);
    await inNs(['ip', 'link', 'set', 'lo', 'up']);
    return {
      name,
      hostAddress: host,
      nsAddress: ns,
      nsInterface: nsIf,
      nft: async (ruleset) => {
        await new Promise<void>((resolve, reject) => {
          const child = execFile('ip', ['netns', 'exec', name, 'nft', '-f', '-'], (error, _o, e) =>
            error === null
              ? resolve()
              : reject(new Error(`nft -f - failed: ${e || error.message}`)),
          );
          child.stdin?.end(ruleset);
        });
      },
      ruleCounters: async (family, table) =>
        countersOf(await inNs(['nft', '-j', 'list', 'table', family, table])),
      spawn: (command, args) => {
        // `ip netns exec` execs the command: the child's pid is the command's own.
        const child = spawn('ip', ['netns', 'exec', name, command, ...args], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr?.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
        });
        children.add(child);
        child.once('exit', () => children.delete(child));
        return {
          child,
          finished: (timeoutMs) => finished(child, command, timeoutMs, () => stderr),
        };
      },
      remove,
    };
  } catch (error) {
    await remove();
    throw error;
  }
}

function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

async function finished(
  child: ChildProcess,
  command: string,
  timeoutMs: number,
  stderr: () => string,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const code = await Promise.race([
      new Promise<number | null>((resolve, reject) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
        child.once('error', reject);
        child.once('exit', (exitCode) => resolve(exitCode));
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${command} did not finish within ${timeoutMs / 1000} s`)),
          timeoutMs,
        );
      }),
    ]);
    if (code !== 0) throw new Error(`${command} exited with ${code}: ${stderr()}`);
  } finally {
    clearTimeout(timer);
  }
}

/** `nft -j` output: the packet counter of each commented rule. */
function countersOf(json: string): Map<string, number> {
  const out = new Map<string, number>();
  const parsed = JSON.parse(json) as { nftables?: unknown };
  if (!Array.isArray(parsed.nftables)) throw new Error('nft -j: no nftables array');
  for (const item of parsed.nftables as unknown[]) {
    const rule = (item as { rule?: { comment?: unknown; expr?: unknown } }).rule;
    if (rule === undefined || typeof rule.comment !== 'string' || !Array.isArray(rule.expr))
      continue;
    for (const expr of rule.expr as unknown[]) {
      const counter = (expr as { counter?: { packets?: unknown } }).counter;
      if (typeof counter?.packets === 'number') out.set(rule.comment, counter.packets);
    }
  }
  return out;
}
