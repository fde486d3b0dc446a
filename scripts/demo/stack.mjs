// The control side of the local demo: the matchmaker and the node proxy run
// as child processes from their real bins (`gamemesh-matchmaker`,
// `gamemesh-proxy`), on configs written to a temporary directory.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const HOST = '127.0.0.1';

/** Secrets of one demo run: generated, never reused across runs. */
export function generateSecrets() {
  return {
    apiKey: randomBytes(18).toString('base64url'),
    linkSecret: randomBytes(24).toString('base64url'),
    netcodeKeyHex: randomBytes(32).toString('hex'),
    // The protocol id of the demo game (netcode 1.02: any u64 both ends agree on).
    netcodeProtocolId: 0x67616d656d657368n,
  };
}

export const DEMO_POOL = 'duel';
export const NODE_ID = 'demo-node';

export function matchmakerConfig(ports, secrets) {
  return {
    listen: `${HOST}:${ports.matchmaker}`,
    store: 'memory',
    logLevel: 'warn',
    auth: { apiKeys: [secrets.apiKey] },
    link: { secret: secrets.linkSecret },
    tokens: {
      netcode: {
        privateKey: secrets.netcodeKeyHex,
        protocolId: `0x${secrets.netcodeProtocolId.toString(16)}`,
        timeoutSeconds: 10,
      },
    },
    clusters: [{ name: 'local', region: 'local', priority: 0, weight: 1 }],
    pools: [
      {
        name: DEMO_POOL,
        teams: { count: 2, size: 1 },
        protocol: 'netcode',
        token: 'netcode',
        matchIntervalMs: 100,
        ticketTtlSeconds: 60,
        assignmentTtlSeconds: 30,
      },
    ],
  };
}

/**
 * Two listeners: netcode players arrive on a key-mode listener (routed by
 * the token the matchmaker minted, installed over the link before the player
 * sees it); RakNet players on a port-mode listener in front of the RakNet pod,
 * because RakNet's routing key (the client GUID) is chosen by the client and
 * cannot be handed out by the matchmaker.
 */
export function proxyConfig(ports, secrets, raknetUpstream) {
  return {
    admin: `${HOST}:${ports.admin}`,
    logLevel: 'info',
    listeners: [
      {
        name: 'netcode',
        address: `${HOST}:${ports.netcode}`,
        mode: 'key',
        allowLoopbackSources: true,
      },
      {
        name: 'raknet',
        address: `${HOST}:${ports.raknet}`,
        mode: 'port',
        upstream: raknetUpstream,
        allowLoopbackSources: true,
      },
    ],
    unknownFlows: 'drop',
    podApi: { address: `${HOST}:${ports.pods}`, heartbeatTimeoutMs: 10000 },
    matchmaker: {
      url: `ws://${HOST}:${ports.matchmaker}/v1/link`,
      secret: secrets.linkSecret,
      nodeId: NODE_ID,
      cluster: 'local',
      region: 'local',
      publicAddress: `${HOST}:${ports.netcode}`,
      reconnectMs: 500,
    },
    protocols: {
      netcode: {
        privateKey: secrets.netcodeKeyHex,
        protocolIds: [secrets.netcodeProtocolId.toString(10)],
      },
    },
    // Players disconnect cleanly, so sessions close by protocol; the deadline only bounds Ctrl-C.
    drain: { deadlineSeconds: 2 },
  };
}

/** A child process whose output goes to a log file; `stop()` sends SIGTERM once and waits. */
export function startChild(name, bin, args, logDir) {
  const logPath = join(logDir, `${name}.log`);
  const log = createWriteStream(logPath);
  // Own process group: Ctrl-C in the terminal reaches only the demo, which then
  // stops each child exactly once (a second SIGINT would skip their drain).
  const child = spawn(process.execPath, [bin, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let stopping = null;
  return {
    name,
    pid: child.pid,
    logPath,
    exited,
    stop(timeoutMs = 10000) {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        const result = await exited;
        clearTimeout(timer);
        log.end();
        return result;
      })();
      return stopping;
    },
    /** Last resort on an abrupt exit of the demo: nothing may outlive it. */
    killNow() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

export function writeYaml(path, value) {
  // JSON is YAML 1.2; both CLIs read their config with a YAML parser.
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Polls `url` until it answers 200, the child exits, or the time is up. */
export async function waitReady(url, child, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  let exited = null;
  void child.exited.then((result) => {
    exited = result;
  });
  while (Date.now() < deadline) {
    if (exited !== null)
      throw new Error(`${child.name} exited (code ${exited.code}); see ${child.logPath}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${child.name} not ready at ${url} within ${timeoutMs} ms; see ${child.logPath}`);
}
