// The local demo behind `npm start`: a matchmaker, a node proxy linked to it,
// two game servers registered with the proxy, and waves of scripted players.
//
// Environment:
//   GAMEMESH_DEMO_WAVES=N          stop starting waves after N (default: until Ctrl-C)
//   GAMEMESH_DEMO_INTERVAL_MS=MS   pause between waves (default 5000)
//   GAMEMESH_DEMO_PORTS=auto       free ports instead of 8080/9090/9091/7777/19132
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { playNetcode, playRaknet } from './players.mjs';
import { choosePorts } from './ports.mjs';
import { registerPod, startNetcodeServer, startRaknetServer } from './servers.mjs';
import {
  DEMO_POOL,
  generateSecrets,
  matchmakerConfig,
  proxyConfig,
  startChild,
  waitReady,
  writeYaml,
} from './stack.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BINS = {
  matchmaker: join(root, 'packages', 'matchmaker', 'bin', 'gamemesh-matchmaker.js'),
  proxy: join(root, 'packages', 'node-proxy', 'bin', 'gamemesh-proxy.js'),
};
const NAMES = ['ada', 'bo', 'cy', 'dee', 'eli', 'fay', 'gus', 'hal', 'ivy', 'jo'];
const SHUTDOWN_WAVE_GRACE_MS = 5000;

function envNumber(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be an integer >= 0`);
  return value;
}

const say = (line) => process.stdout.write(`${line}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function formatNumber(value, digits) {
  return value === null || value === undefined ? '-' : Number(value).toFixed(digits);
}

/** Prints the proxy's sessions opened since `since`, grouped by protocol. */
async function printSessions(adminUrl, since, prefix) {
  const response = await fetch(`${adminUrl}/sessions`);
  const { sessions } = await response.json();
  const recent = sessions.filter((s) => Date.parse(s.openedAt) >= since);
  const byProtocol = new Map();
  for (const s of recent) byProtocol.set(s.protocol, [...(byProtocol.get(s.protocol) ?? []), s]);
  say(`${prefix} proxy sessions (GET ${adminUrl}/sessions):`);
  for (const [protocol, list] of byProtocol) {
    say(`${prefix}   ${protocol}: ${list.length} session(s)`);
    for (const s of list) {
      const key = s.key === null ? '-' : s.key.length > 16 ? `${s.key.slice(0, 16)}…` : s.key;
      say(
        `${prefix}     key ${key.padEnd(17)} ${s.state.padEnd(6)} ${(s.reason ?? '').padEnd(18)} ` +
          `pkts ${s.packets.forward}→/${s.packets.reverse}← bytes ${s.bytes.forward}→/${s.bytes.reverse}← ` +
          `rtt ${formatNumber(s.rttMs, 1)} ms loss ${formatNumber(s.lossRatio, 3)} ` +
          `jitter ${formatNumber(s.jitterMs, 1)} ms → ${s.upstream}`,
      );
    }
  }
  if (byProtocol.size === 0) say(`${prefix}   (none)`);
}

async function runWave(wave, ctx) {
  const prefix = `[wave ${wave}]`;
  const log = (line) => say(`${prefix} ${line}`);
  const since = Date.now();
  const name = (i) => `${NAMES[i % NAMES.length]}-${wave}`;
  // Four netcode players: the duel pool (2 teams × 1) makes two matches of them.
  const netcodePlayers = [0, 1, 2, 3].map((i) => playNetcode(ctx.mm, DEMO_POOL, name(i), log));
  const raknetPlayers = [4, 5].map((i) => playRaknet(ctx.raknetListener, name(i), log));
  const results = await Promise.allSettled([...netcodePlayers, ...raknetPlayers]);
  const played = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
  for (const r of results)
    if (r.status === 'rejected') log(`a player failed: ${r.reason?.message ?? r.reason}`);
  const matches = new Set(played.filter((p) => p.matchId).map((p) => p.matchId));
  // Let the proxy see the disconnects before listing sessions.
  await sleep(500);
  await printSessions(ctx.adminUrl, since, prefix);
  log(
    `done: ${played.length}/${results.length} players played, ${matches.size} match(es); ` +
      `servers so far: netcode ${ctx.netcode.counters.connects} connects, raknet ${ctx.raknet.counters.connects} connects`,
  );
  say(
    `demo-wave ${JSON.stringify({ wave, players: played.map(({ echoes, ...p }) => p), failed: results.length - played.length })}`,
  );
}

export async function runDemo() {
  const maxWaves = envNumber('GAMEMESH_DEMO_WAVES', Number.POSITIVE_INFINITY);
  const intervalMs = envNumber('GAMEMESH_DEMO_INTERVAL_MS', 5000);
  const ports = await choosePorts(process.env.GAMEMESH_DEMO_PORTS);
  const secrets = generateSecrets();
  const dir = mkdtempSync(join(tmpdir(), 'gamemesh-demo-'));
  const children = [];
  const cleanups = [];
  let stopping = false;
  let waveInFlight = null;
  // A child signalled before its CLI installs its handlers would die of the
  // signal, so Ctrl-C during startup waits for startup to settle first.
  let startupSettled;
  const startup = new Promise((resolve) => {
    startupSettled = resolve;
  });

  const killChildrenNow = () => {
    for (const child of children) child.killNow();
  };
  process.on('exit', killChildrenNow);

  const shutdown = async (why, failed = false) => {
    if (stopping) {
      say(`${why}: still stopping (bounded: children get SIGKILL after 10 s)`);
      return;
    }
    stopping = true;
    say(`\n${why}: shutting down`);
    await startup;
    if (waveInFlight !== null)
      await Promise.race([waveInFlight.catch(() => {}), sleep(SHUTDOWN_WAVE_GRACE_MS)]);
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    let clean = true;
    for (const child of [...children].reverse()) {
      const { code, signal } = await child.stop();
      say(`  ${child.name} stopped (exit ${code ?? signal})`);
      if (code !== 0) clean = false;
    }
    // Logs stay for a failed run: they hold the reason.
    if (failed) say(`logs kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
    say(clean ? 'demo stopped cleanly' : 'demo stopped; a component did not exit cleanly');
    process.exit(clean && !failed ? 0 : 1);
  };
  // `on`, not `once`: a second Ctrl-C must not kill the demo before it has
  // stopped its children (they run in their own process groups).
  process.on('SIGINT', () => void shutdown('Ctrl-C'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  try {
    const mmFile = join(dir, 'matchmaker.yaml');
    writeYaml(mmFile, matchmakerConfig(ports, secrets));
    const mm = startChild('matchmaker', BINS.matchmaker, ['--config', mmFile], dir);
    children.push(mm);
    const mmUrl = `http://127.0.0.1:${ports.matchmaker}`;
    await waitReady(`${mmUrl}/readyz`, mm);

    const raknet = await startRaknetServer(16);
    cleanups.push(() => raknet.close());
    const netcode = await startNetcodeServer({
      privateKeyHex: secrets.netcodeKeyHex,
      protocolId: secrets.netcodeProtocolId,
      capacity: 16,
      publicAddress: `127.0.0.1:${ports.netcode}`,
    });
    cleanups.push(() => netcode.close());

    const proxyFile = join(dir, 'proxy.yaml');
    writeYaml(proxyFile, proxyConfig(ports, secrets, raknet.address));
    const proxy = startChild('proxy', BINS.proxy, ['--config', proxyFile], dir);
    children.push(proxy);
    const adminUrl = `http://127.0.0.1:${ports.admin}`;
    await waitReady(`${adminUrl}/readyz`, proxy);

    const podsUrl = `http://127.0.0.1:${ports.pods}`;
    const raknetPod = await registerPod(podsUrl, 'raknet-1', raknet);
    cleanups.push(() => raknetPod.stop());
    const netcodePod = await registerPod(podsUrl, 'netcode-1', netcode);
    cleanups.push(() => netcodePod.stop());

    say('gamemesh demo: everything on 127.0.0.1');
    say(
      `  matchmaker        ${mmUrl}   API docs ${mmUrl}/docs   (pool "${DEMO_POOL}": netcode 1v1)`,
    );
    say(`  matchmaker key    ${secrets.apiKey}   (header x-api-key)`);
    say(`  proxy admin API   ${adminUrl}   /sessions /metrics /config /readyz`);
    say(`  proxy pod API     ${podsUrl}/v1/pods`);
    say(`  netcode listener  127.0.0.1:${ports.netcode} (key mode, routes from the matchmaker)`);
    say(`  raknet listener   127.0.0.1:${ports.raknet} (port mode → ${raknet.address})`);
    say(
      `  game servers      netcode-1 ${netcode.address}, raknet-1 ${raknet.address} (registered pods)`,
    );
    say(`  logs              ${mm.logPath}, ${proxy.logPath}`);
    say(
      '  (an "Unknown bind__() error" line from raknet-native at startup is harmless: raknet-1 is listening)',
    );
    say(
      `demo-processes ${JSON.stringify({ matchmaker: mm.pid, proxy: proxy.pid, demo: process.pid })}`,
    );
    say(
      `demo-urls ${JSON.stringify({ matchmaker: mmUrl, admin: adminUrl, pods: podsUrl, apiKey: secrets.apiKey, netcodeServer: netcode.address, raknetServer: raknet.address })}`,
    );
    say('Players join in waves; Ctrl-C stops everything.\n');
    startupSettled();

    const ctx = {
      mm: { url: mmUrl, apiKey: secrets.apiKey },
      adminUrl,
      raknetListener: `127.0.0.1:${ports.raknet}`,
      netcode,
      raknet,
    };
    for (let wave = 1; wave <= maxWaves && !stopping; wave++) {
      waveInFlight = runWave(wave, ctx);
      await waveInFlight;
      waveInFlight = null;
      if (!stopping && wave < maxWaves) await sleep(intervalMs);
    }
    if (!stopping) say(`demo-idle no more waves (GAMEMESH_DEMO_WAVES=${maxWaves}); Ctrl-C to stop`);
  } catch (error) {
    say(`demo failed: ${error.message}`);
    for (const child of children) {
      const lines = readFileSync(child.logPath, 'utf8').trim().split('\n').slice(-5);
      if (lines[0] !== '') say(`  ${child.name} log (last lines):\n    ${lines.join('\n    ')}`);
    }
    say('  Ports taken? `GAMEMESH_DEMO_PORTS=auto npm start` picks free ones.');
    startupSettled();
    await shutdown('error', true);
  }
}
