// The `npm start` demo end to end: the real entry point as a child process,
// limited to one wave on free ports; what it claims is checked against the
// matchmaker's and the proxy's own APIs, then Ctrl-C (SIGINT) must stop every
// process it started and exit 0.
//   node scripts/demo/demo.test.mjs
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const START = join(root, 'scripts', 'start.mjs');

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

function lineValue(output, tag) {
  const line = output.split('\n').find((l) => l.startsWith(`${tag} `));
  return line === undefined ? undefined : JSON.parse(line.slice(tag.length + 1));
}

async function waitFor(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function getJson(url, headers = {}) {
  const response = await fetch(url, { headers });
  assert.is(response.status, 200, `GET ${url}`);
  return response.json();
}

test('npm start: tickets matched, players routed through the proxy to both servers, clean Ctrl-C', async () => {
  const demo = spawn(process.execPath, [START], {
    cwd: root,
    env: { ...process.env, GAMEMESH_DEMO_PORTS: 'auto', GAMEMESH_DEMO_WAVES: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  demo.stdout.on('data', (chunk) => {
    output += chunk;
  });
  demo.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise((resolve) =>
    demo.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let processes = null;
  try {
    await waitFor(
      'the first wave to finish',
      () =>
        output.includes('demo-idle') || output.includes('demo failed') || demo.exitCode !== null,
      60000,
    );
    assert.ok(output.includes('demo-idle'), `demo output:\n${output}`);
    processes = lineValue(output, 'demo-processes');
    const urls = lineValue(output, 'demo-urls');
    const wave = lineValue(output, 'demo-wave');
    assert.is(wave.failed, 0);

    // Matchmaking: four netcode players in two 1v1 matches, each ticket assigned.
    const netcodePlayers = wave.players.filter((p) => p.protocol === 'netcode');
    const raknetPlayers = wave.players.filter((p) => p.protocol === 'raknet');
    assert.is(netcodePlayers.length, 4);
    assert.is(raknetPlayers.length, 2);
    assert.is(new Set(netcodePlayers.map((p) => p.matchId)).size, 2);
    const auth = { 'x-api-key': urls.apiKey };
    for (const player of netcodePlayers) {
      const ticket = await getJson(`${urls.matchmaker}/v1/tickets/${player.ticketId}`, auth);
      assert.is(ticket.state, 'assigned', `ticket of ${player.playerId}`);
    }
    const mmMetrics = await (await fetch(`${urls.matchmaker}/metrics`)).text();
    assert.match(mmMetrics, /gamemesh_matchmaker_tickets_assigned_total\{pool="duel"\} 4\b/);
    assert.is((await fetch(`${urls.matchmaker}/docs/json`)).status, 200);

    // Routing: the proxy holds a netcode session per assigned key, upstream the
    // netcode server, and the RakNet sessions went to the RakNet server.
    const { sessions } = await getJson(`${urls.admin}/sessions`);
    for (const player of netcodePlayers) {
      const session = sessions.find((s) => s.protocol === 'netcode' && s.key === player.key);
      assert.ok(session, `a netcode session keyed ${player.key}`);
      assert.is(session.upstream, urls.netcodeServer);
      assert.ok(session.packets.forward > 0 && session.packets.reverse > 0);
      // The player left with netcode disconnect packets, which end the proxy's session.
      assert.is(session.state, 'closed');
      assert.is(session.reason, 'protocol_disconnect');
    }
    const raknetSessions = sessions.filter((s) => s.protocol === 'raknet');
    assert.is(raknetSessions.length, 2);
    for (const session of raknetSessions) {
      assert.is(session.upstream, urls.raknetServer);
      assert.ok(session.packets.forward > 0 && session.packets.reverse > 0);
      assert.is(session.state, 'closed');
      assert.is(session.reason, 'protocol_disconnect');
    }
    const { pods } = await getJson(`${urls.pods}/v1/pods`);
    assert.equal(pods.map((p) => `${p.id}:${p.protocol}:${p.state}`).sort(), [
      'netcode-1:netcode:active',
      'raknet-1:raknet:active',
    ]);

    // Ctrl-C: everything stops, exit 0.
    demo.kill('SIGINT');
    let timer;
    const { code } = await Promise.race([
      exited,
      new Promise((resolve) => {
        timer = setTimeout(() => resolve({ code: 'timeout' }), 30000);
      }),
    ]);
    clearTimeout(timer);
    assert.is(code, 0, `demo output:\n${output}`);
    assert.ok(output.includes('demo stopped cleanly'));
    await waitFor(
      'children gone',
      () => !alive(processes.matchmaker) && !alive(processes.proxy),
      5000,
    );
    assert.is((await fetch(`${urls.admin}/livez`).catch(() => null)) === null, true);
    assert.is((await fetch(`${urls.matchmaker}/livez`).catch(() => null)) === null, true);
  } finally {
    if (demo.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL');
    for (const pid of [processes?.matchmaker, processes?.proxy])
      if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
  }
});

test.run();
