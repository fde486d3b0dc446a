import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { captureWith, freePort } from '../inspect/helpers/tcpdump.js';
import {
  RANDOM_DATAGRAM_SIZES,
  runOtherUdpTraffic,
  ZERO_DATAGRAM_SIZES,
} from '../support/other-udp.js';
import { type FlowLine, PACKAGE_ROOT, portOf, REPO_ROOT, runInspect } from './inspect-run.js';

// Labels end to end: the built gamemesh-inspect on every committed real-peer
// capture labels each flow with the right protocol, variant, key and close
// reason; other UDP (DNS, STUN, random, zeros) captured here is never labelled
// a game protocol; the ENet example plugin labels its own capture.

const GAME_PROTOCOLS = ['raknet', 'kcp', 'netcode', 'rtp', 'rtcp'];
const FIXTURES = join(PACKAGE_ROOT, 'test', 'fixtures');
const DECIMAL = /^(0|[1-9][0-9]*)$/;

function captures(protocol: string): string[] {
  const dir = join(FIXTURES, protocol);
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.pcap') || name.endsWith('.pcapng'))
    .map((name) => join(dir, name));
  assert.ok(files.length > 0, `a committed capture in test/fixtures/${protocol}`);
  return files;
}

async function inspectJson(file: string, extra: readonly string[] = []): Promise<FlowLine[]> {
  const run = await runInspect(['--json', ...extra, file]);
  assert.is(run.code, 0, run.stderr);
  assert.ok(run.flows.length > 0, `flows in ${file}`);
  for (const flow of run.flows) assert.equal(flow.faults, [], `${flow.src} -> ${flow.dst}`);
  return run.flows;
}

const where = (flow: FlowLine) =>
  `${flow.src} -> ${flow.dst} (${flow.protocol}/${flow.variant}, ${flow.reason})`;

test('raknet fixtures: the session flow is raknet, keyed by the client GUID, opened by the handshake, closed protocol_disconnect', async () => {
  for (const file of captures('raknet')) {
    const flows = await inspectJson(file);
    // raknet-native's server socket sends 4-byte wake-ups to itself (fixture README): not a session, honestly unknown.
    for (const flow of flows.filter((f) => f.src === f.dst))
      assert.is(flow.protocol, 'unknown', where(flow));
    const sessions = flows.filter((f) => f.src !== f.dst);
    assert.is(sessions.length, 1, 'one client-server session');
    for (const flow of sessions) {
      assert.is(flow.protocol, 'raknet', where(flow));
      assert.is(flow.variant, 'offline', where(flow));
      assert.ok(flow.key !== null && DECIMAL.test(flow.key), `u64 decimal key: ${flow.key}`);
      assert.is(flow.key, flow.stats?.clientGuid, 'the key is the client GUID');
      assert.ok(flow.opened !== null, where(flow));
      assert.is(flow.closed?.reason, 'protocol_disconnect', where(flow));
    }
  }
});

test('kcp fixtures: every flow kcp/raw keyed by conv (both legs of both conversations), no protocol close', async () => {
  for (const file of captures('kcp')) {
    const flows = await inspectJson(file);
    const keys: string[] = [];
    for (const flow of flows) {
      assert.is(flow.protocol, 'kcp', where(flow));
      assert.is(flow.variant, 'raw', where(flow));
      assert.ok(flow.key !== null && DECIMAL.test(flow.key));
      assert.is(flow.key, String(flow.stats?.conv));
      assert.is(flow.closed, null, 'KCP has no goodbye; the capture ends before any idle close');
      keys.push(flow.key!);
    }
    if (file.endsWith('kcp-session.pcap')) {
      // README: conv 0x12345690 and conv 7, client<->relay and relay<->server legs.
      assert.equal(keys.sort(), [String(0x12345690), String(0x12345690), '7', '7'].sort());
    }
  }
});

test('netcode fixtures (with the fixture key): netcode/1.02, keyed by the token tag, opened with the client id, closed protocol_disconnect', async () => {
  const key = readFileSync(join(FIXTURES, 'netcode', 'private-key.txt'), 'utf8').trim();
  for (const file of captures('netcode')) {
    const flows = await inspectJson(file, ['--netcode-key', key]);
    assert.is(flows.length, 1);
    const flow = flows[0]!;
    assert.is(flow.protocol, 'netcode');
    assert.is(flow.variant, '1.02');
    assert.ok(flow.key !== null && /^[0-9a-f]{32}$/.test(flow.key), `token tag key: ${flow.key}`);
    assert.is(flow.opened?.detail.tokenValid, true);
    if (file.endsWith('netcode-session.pcap')) assert.is(flow.opened?.detail.clientId, '424242');
    assert.is(flow.closed?.reason, 'protocol_disconnect');
    // Without the key: the same label and key, but the token cannot be opened.
    const keyless = await inspectJson(file);
    assert.is(keyless[0]!.protocol, 'netcode');
    assert.is(keyless[0]!.key, flow.key);
    assert.is(keyless[0]!.opened?.detail.clientId, undefined);
  }
});

test('rtp fixtures: RTP flows keyed by SSRC, RTCP flows rtcp, every flow closed bye by the RTCP BYE', async () => {
  for (const file of captures('rtp')) {
    const flows = await inspectJson(file);
    const rtpFlows = flows.filter((flow) => flow.protocol === 'rtp');
    assert.ok(rtpFlows.length >= 1, 'at least one RTP stream');
    for (const flow of flows) {
      assert.ok(flow.protocol === 'rtp' || flow.protocol === 'rtcp', where(flow));
      assert.is(flow.variant, 'default');
      assert.ok(flow.key !== null && DECIMAL.test(flow.key), where(flow));
      assert.is(flow.closed?.reason, 'bye', where(flow));
    }
    for (const flow of rtpFlows)
      assert.is(flow.key, String(flow.stats?.ssrc), 'RTP key is the SSRC');
    // Every RTCP sender SSRC names an RTP stream of the capture.
    const ssrcs = new Set(rtpFlows.map((flow) => flow.key));
    for (const flow of flows.filter((f) => f.protocol === 'rtcp'))
      assert.ok(ssrcs.has(flow.key), where(flow));
  }
});

test('other UDP captured on lo (DNS via the Node resolver, STUN, random, zeros): never a game protocol', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gm-other-udp-'));
  try {
    const file = join(dir, 'other-udp.pcap');
    const randomFlows = 4;
    const ports = {
      dns: await freePort(),
      stun: await freePort(),
      zeros: await freePort(),
      random: [] as number[],
    };
    for (let i = 0; i < randomFlows; i++) ports.random.push(await freePort());
    const all = [ports.dns, ports.stun, ports.zeros, ...ports.random];
    // Narrowed to this test's ports so parallel loopback traffic stays out.
    const filter = `udp and host 127.0.0.1 and (${all.map((port) => `port ${port}`).join(' or ')})`;
    const expectedFrames =
      12 + 2 + randomFlows * RANDOM_DATAGRAM_SIZES.length * 2 + ZERO_DATAGRAM_SIZES.length;
    const traffic = await captureWith({ file, filter, expectedFrames }, () =>
      runOtherUdpTraffic({ ports, randomFlows, seed: 0x0dd }),
    );
    assert.is(traffic.dnsAnswers, 6, 'the resolver got its answers');
    assert.ok(traffic.stunMapped !== null, 'the STUN client got its mapped address');
    const run = await runInspect(['--json', file]);
    assert.is(run.code, 0, run.stderr);
    const byKind = new Map<string, FlowLine[]>();
    for (const flow of run.flows) {
      const port = portOf(flow.dst);
      const kind =
        port === ports.dns
          ? 'dns'
          : port === ports.stun
            ? 'stun'
            : port === ports.zeros
              ? 'zeros'
              : ports.random.includes(port)
                ? 'random'
                : 'other';
      byKind.set(kind, [...(byKind.get(kind) ?? []), flow]);
      assert.not.ok(GAME_PROTOCOLS.includes(flow.protocol), `${kind}: ${where(flow)}`);
      assert.is(flow.protocol, 'unknown', `${kind}: ${where(flow)}`);
      assert.ok(
        ['no_protocol_matched', 'window_exhausted', 'capture_ended_pending'].includes(flow.reason),
        flow.reason,
      );
    }
    assert.equal(byKind.get('other'), undefined, 'every flow is one of the kinds sent');
    assert.ok((byKind.get('dns')?.length ?? 0) >= 1, 'DNS flows');
    assert.is(byKind.get('stun')?.length, 1);
    assert.is(byKind.get('random')?.length, randomFlows);
    const zeros = byKind.get('zeros') ?? [];
    assert.is(zeros.length, 1);
    assert.is(
      zeros[0]!.packets.forward,
      ZERO_DATAGRAM_SIZES.length,
      'all zero datagrams, 1078/24/48 bytes included',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('ENet example plugin: its capture is enet with --plugin, unknown without', async () => {
  const capture = join(
    REPO_ROOT,
    'examples',
    'plugin-enet',
    'test',
    'fixtures',
    'enet-session.pcap',
  );
  const plugin = 'examples/plugin-enet/dist/src/index.js';
  const withPlugin = await inspectJson(capture, ['--plugin', plugin]);
  assert.is(withPlugin.length, 1);
  assert.is(withPlugin[0]!.protocol, 'enet');
  assert.ok(withPlugin[0]!.key !== null);
  const without = await inspectJson(capture);
  assert.is(without.length, 1);
  assert.is(without[0]!.protocol, 'unknown');
  assert.is(
    without[0]!.packets.forward + without[0]!.packets.reverse,
    withPlugin[0]!.packets.forward + withPlugin[0]!.packets.reverse,
  );
});

test('the bundled sample capture (npm start): every flow labelled as the sessions that made it', async () => {
  const dir = join(REPO_ROOT, 'examples', 'captures');
  const key = readFileSync(join(dir, 'sample.netcode-key'), 'utf8').trim();
  const flows = await inspectJson(join(dir, 'sample.pcap'), ['--netcode-key', key]);
  const of = (protocol: string) => flows.filter((flow) => flow.protocol === protocol);
  // examples/captures/README.md: what make-sample.ts runs.
  assert.is(of('raknet').length, 1);
  assert.is(of('raknet')[0]!.closed?.reason, 'protocol_disconnect');
  assert.is(of('netcode').length, 1);
  assert.is(of('netcode')[0]!.opened?.detail.clientId, '1001');
  assert.is(of('netcode')[0]!.closed?.reason, 'protocol_disconnect');
  assert.equal(
    of('kcp')
      .map((flow) => flow.key)
      .sort(),
    [String(0x12345690), String(0x12345690), '42', '42'].sort(),
  );
  assert.is(of('rtp').length, 2);
  assert.is(of('rtcp').length, 2);
  for (const flow of [...of('rtp'), ...of('rtcp')])
    assert.is(flow.closed?.reason, 'bye', where(flow));
  // DNS (6 queries), STUN, 2 random flows, 1 zero flow.
  assert.is(of('unknown').length, 10);
  assert.is(flows.length, 20);
});

test.run();
