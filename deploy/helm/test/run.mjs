// Chart tests: helm lint --strict, helm template with several values files
// and assertions on the rendered manifests, Kubernetes schema validation of
// every rendered object (kubernetes-models), and the rendered proxy and
// matchmaker configs checked by the programs' own `--check`.
// Ends with "N passed, N failed"; exit code 1 on any failure.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { validate } from './validate.mjs';
import { valuesReference } from './values-doc.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const charts = join(root, 'deploy', 'helm');
const helm = execFileSync('node', [join(root, 'scripts', 'setup-helm.mjs')], {
  encoding: 'utf8',
}).trim();

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

function template(chart, valuesFiles = [], extra = []) {
  const args = ['template', 'rel', join(charts, chart), '--namespace', 'games'];
  for (const file of valuesFiles) args.push('-f', join(here, 'values', file));
  const out = execFileSync(helm, [...args, ...extra], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return parseAllDocuments(out)
    .map((d) => d.toJS())
    .filter((o) => o !== null);
}
function templateError(chart, extra) {
  const r = spawnSync(helm, ['template', 'rel', join(charts, chart), ...extra], {
    encoding: 'utf8',
  });
  assert.notEqual(r.status, 0, 'helm template should fail');
  return r.stderr;
}
const find = (objects, kind, name) => {
  const found = objects.find(
    (o) => o.kind === kind && (name === undefined || o.metadata.name === name),
  );
  assert.ok(found, `no ${kind} ${name ?? ''}`);
  return found;
};
const env = (container, name) => container.env.find((e) => e.name === name);

/** Runs the init container's render script over a ConfigMap template with the env of a pod. */
function renderConfig(configMap, file, vars) {
  const dir = mkdtempSync(join(tmpdir(), 'gm-helm-'));
  try {
    writeFileSync(join(dir, 'render-config.mjs'), configMap.data['render-config.mjs']);
    writeFileSync(join(dir, 'in.yaml'), configMap.data[file]);
    const r = spawnSync(
      'node',
      [join(dir, 'render-config.mjs'), join(dir, 'in.yaml'), join(dir, 'out.yaml')],
      {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, ...vars },
      },
    );
    assert.equal(r.status, 0, r.stderr);
    return readFileSync(join(dir, 'out.yaml'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
/** The program's own `--check` on a rendered config: the chart writes configs the programs accept. */
function check(bin, text) {
  const dir = mkdtempSync(join(tmpdir(), 'gm-helm-'));
  try {
    writeFileSync(join(dir, 'config.yaml'), text);
    const r = spawnSync('node', [bin, '--config', join(dir, 'config.yaml'), '--check'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `${bin} --check: ${r.stderr}`);
    return JSON.parse(r.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const PROXY_BIN = join(root, 'packages', 'node-proxy', 'bin', 'gamemesh-proxy.js');
const MM_BIN = join(root, 'packages', 'matchmaker', 'bin', 'gamemesh-matchmaker.js');
const SECRETS = {
  GAMEMESH_NODE_IP: '10.1.2.3',
  GAMEMESH_NODE_NAME: 'node-a',
  GAMEMESH_LINK_SECRET: 'a-link-secret-of-32-characters!!',
  GAMEMESH_NETCODE_PRIVATE_KEY: 'ab'.repeat(32),
  GAMEMESH_ROUTING_SECRET: 'a-routing-secret-of-32-characters',
  GAMEMESH_MM_STORE: 'redis://:p%40ss@redis.example:6379/0',
};

for (const chart of ['gamemesh', 'game-server']) {
  test(`${chart}: helm lint --strict`, () => {
    execFileSync(helm, ['lint', '--strict', join(charts, chart)], { stdio: 'pipe' });
  });
}

const VARIANTS = [
  [],
  ['redis-external.yaml'],
  ['servicemonitor.yaml'],
  ['custom.yaml'],
  ['token.yaml'],
];
for (const files of VARIANTS) {
  test(`gamemesh [${files.join(',') || 'defaults'}]: every object is valid against the Kubernetes schemas`, () => {
    const objects = template('gamemesh', files);
    assert.ok(objects.length >= 6);
    for (const o of objects) validate(o);
  });
}
test('game-server: every object is valid against the Kubernetes schemas', () => {
  for (const o of template('game-server')) validate(o);
});

test('defaults: proxy DaemonSet on the host network, readiness /readyz on the admin port, grace from the drain', () => {
  const objects = template('gamemesh');
  const ds = find(objects, 'DaemonSet', 'rel-gamemesh-proxy');
  const pod = ds.spec.template.spec;
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
  assert.equal(pod.terminationGracePeriodSeconds, 40);
  const proxy = pod.containers[0];
  assert.deepEqual(proxy.readinessProbe.httpGet, {
    path: '/readyz',
    port: 'admin',
    host: '127.0.0.1',
  });
  assert.deepEqual(
    proxy.ports.find((p) => p.name === 'admin'),
    { name: 'admin', containerPort: 9090, hostPort: 9090, protocol: 'TCP' },
  );
  assert.deepEqual(
    proxy.ports.find((p) => p.name === 'udp-game'),
    { name: 'udp-game', containerPort: 7777, hostPort: 7777, protocol: 'UDP' },
  );
  assert.deepEqual(env(proxy, 'GAMEMESH_PUBLIC_IP').valueFrom, {
    fieldRef: { fieldPath: 'status.hostIP' },
  });
  assert.equal(env(proxy, 'GAMEMESH_PUBLIC_ADDRESS').value, '$(GAMEMESH_PUBLIC_IP):7777');
  assert.deepEqual(proxy.resources.limits, { cpu: '2', memory: '1Gi' });
  const init = pod.initContainers[0];
  assert.deepEqual(env(init, 'GAMEMESH_NODE_IP').valueFrom, {
    fieldRef: { fieldPath: 'status.hostIP' },
  });
  assert.deepEqual(env(init, 'GAMEMESH_LINK_SECRET').valueFrom.secretKeyRef, {
    name: 'rel-gamemesh-secrets',
    key: 'link-secret',
  });
  assert.equal(
    objects.some((o) => o.kind === 'ServiceMonitor'),
    false,
  );
  assert.equal(
    objects.some((o) => o.metadata.name.endsWith('-redis')),
    false,
  );
  for (const o of objects) {
    assert.equal(
      o.metadata.labels['app.kubernetes.io/instance'],
      'rel',
      `${o.kind} ${o.metadata.name}`,
    );
    assert.equal(o.metadata.labels['app.kubernetes.io/managed-by'], 'Helm');
  }
});

test('defaults: the generated Secret holds every referenced key, and they are random', () => {
  const a = find(template('gamemesh'), 'Secret', 'rel-gamemesh-secrets');
  const b = find(template('gamemesh'), 'Secret', 'rel-gamemesh-secrets');
  assert.deepEqual(Object.keys(a.data).sort(), ['api-key', 'link-secret', 'routing-secret']);
  for (const key of Object.keys(a.data)) {
    assert.ok(Buffer.from(a.data[key], 'base64').length >= 32);
    assert.notEqual(a.data[key], b.data[key]);
  }
  const mm = find(template('gamemesh'), 'Deployment', 'rel-gamemesh-matchmaker').spec.template.spec
    .containers[0];
  for (const [name, key] of [
    ['GAMEMESH_MM_API_KEY', 'api-key'],
    ['GAMEMESH_LINK_SECRET', 'link-secret'],
    ['GAMEMESH_ROUTING_SECRET', 'routing-secret'],
  ]) {
    assert.deepEqual(env(mm, name).valueFrom.secretKeyRef, { name: 'rel-gamemesh-secrets', key });
  }
});

test('defaults: the rendered proxy config is accepted by gamemesh-proxy --check', () => {
  const objects = template('gamemesh');
  const text = renderConfig(
    find(objects, 'ConfigMap', 'rel-gamemesh-proxy'),
    'proxy.yaml',
    SECRETS,
  );
  const config = check(PROXY_BIN, text);
  assert.equal(config.admin, '127.0.0.1:9090');
  // Game server pods register at status.hostIP:proxy.registrationPort (game-server chart).
  assert.deepEqual(config.podApi, { address: '10.1.2.3:9091', heartbeatTimeoutMs: 10000 });
  assert.match(
    find(objects, 'ConfigMap', 'rel-gamemesh-proxy').data['proxy.yaml'],
    /podApi:\n\s+address: __ADDR_GAMEMESH_NODE_IP_9091__\n/,
  );
  const proxy = find(objects, 'DaemonSet').spec.template.spec.containers[0];
  assert.deepEqual(
    proxy.ports.find((p) => p.name === 'pod-api'),
    { name: 'pod-api', containerPort: 9091, hostPort: 9091, protocol: 'TCP' },
  );
  const gameServer = find(template('game-server'), 'Deployment').spec.template.spec.containers[0];
  assert.equal(env(gameServer, 'GAMEMESH_PROXY_ADDR').value, '$(GAMEMESH_NODE_IP):9091');
  assert.deepEqual(
    config.listeners.map((l) => [l.name, l.address, l.mode]),
    [['game', '0.0.0.0:7777', 'key']],
  );
  assert.equal(config.matchmaker.url, 'ws://rel-gamemesh-matchmaker.games.svc:8080/v1/link');
  assert.equal(config.matchmaker.publicAddress, '10.1.2.3:7777');
  assert.equal(config.matchmaker.nodeId, 'node-a');
  assert.equal(config.drain.deadlineSeconds, 30);
  assert.match(text, /secret: "a-link-secret-of-32-characters!!"/);
});

test('render script: IPv6 node address in brackets; a missing variable fails the pod start', () => {
  const cm = find(template('gamemesh'), 'ConfigMap', 'rel-gamemesh-proxy');
  const text = renderConfig(cm, 'proxy.yaml', { ...SECRETS, GAMEMESH_NODE_IP: 'fd00::7' });
  assert.match(text, /publicAddress: "\[fd00::7\]:7777"/);
  assert.match(text, /address: "\[fd00::7\]:9091"/);
  assert.throws(
    () => renderConfig(cm, 'proxy.yaml', { GAMEMESH_NODE_IP: '10.1.2.3' }),
    /unset environment: GAMEMESH_LINK_SECRET/,
  );
});

test('defaults: the matchmaker config uses the memory store and is accepted by gamemesh-matchmaker --check', () => {
  const cm = find(template('gamemesh'), 'ConfigMap', 'rel-gamemesh-matchmaker');
  const config = check(MM_BIN, renderConfig(cm, 'matchmaker.yaml', {}));
  assert.equal(config.store, 'memory');
  assert.equal(config.listen, '0.0.0.0:8080');
});

test('redis external + netcode: store URL from the existing Secret, one netcode key shared by matchmaker and proxies', () => {
  const objects = template('gamemesh', ['redis-external.yaml']);
  assert.equal(
    objects.some((o) => o.metadata.name === 'rel-gamemesh-redis'),
    false,
  );
  const mm = find(objects, 'Deployment', 'rel-gamemesh-matchmaker').spec.template.spec;
  assert.equal(find(objects, 'Deployment', 'rel-gamemesh-matchmaker').spec.replicas, 2);
  assert.deepEqual(env(mm.initContainers[0], 'GAMEMESH_MM_STORE').valueFrom.secretKeyRef, {
    name: 'prod-redis',
    key: 'url',
  });
  assert.deepEqual(env(mm.containers[0], 'GAMEMESH_MM_API_KEY').valueFrom.secretKeyRef, {
    name: 'prod-mm',
    key: 'api-key',
  });
  const keyRef = { name: 'rel-gamemesh-secrets', key: 'netcode-private-key' };
  assert.deepEqual(
    env(mm.initContainers[0], 'GAMEMESH_NETCODE_PRIVATE_KEY').valueFrom.secretKeyRef,
    keyRef,
  );
  const ds = find(objects, 'DaemonSet').spec.template.spec;
  assert.deepEqual(
    env(ds.initContainers[0], 'GAMEMESH_NETCODE_PRIVATE_KEY').valueFrom.secretKeyRef,
    keyRef,
  );
  const secret = find(objects, 'Secret', 'rel-gamemesh-secrets');
  assert.equal(secret.data['api-key'], undefined);
  assert.match(
    Buffer.from(secret.data['netcode-private-key'], 'base64').toString(),
    /^[0-9a-f]{64}$/,
  );
  const mmConfig = check(
    MM_BIN,
    renderConfig(find(objects, 'ConfigMap', 'rel-gamemesh-matchmaker'), 'matchmaker.yaml', SECRETS),
  );
  assert.equal(mmConfig.store, SECRETS.GAMEMESH_MM_STORE);
  assert.equal(mmConfig.tokens.netcode.protocolId, '1234605616436508552');
  const proxyText = renderConfig(
    find(objects, 'ConfigMap', 'rel-gamemesh-proxy'),
    'proxy.yaml',
    SECRETS,
  );
  const proxyConfig = check(PROXY_BIN, proxyText);
  assert.deepEqual(proxyConfig.protocols.netcode.protocolIds, ['1234605616436508552']);
  assert.match(proxyText, new RegExp(`"privateKey":"${'ab'.repeat(32)}"`));
});

test('servicemonitor: created with a metrics Service, admin on the node IP, bundled Redis wired', () => {
  const objects = template('gamemesh', ['servicemonitor.yaml']);
  const sm = find(objects, 'ServiceMonitor');
  assert.equal(sm.metadata.labels.release, 'prometheus');
  assert.deepEqual(
    sm.spec.endpoints.map((e) => [e.port, e.path]),
    [
      ['admin', '/metrics'],
      ['http', '/metrics'],
    ],
  );
  assert.equal(find(objects, 'Service', 'rel-gamemesh-proxy-metrics').spec.clusterIP, 'None');
  const proxy = find(objects, 'DaemonSet').spec.template.spec.containers[0];
  assert.deepEqual(proxy.readinessProbe.httpGet, { path: '/readyz', port: 'admin' });
  const config = check(
    PROXY_BIN,
    renderConfig(find(objects, 'ConfigMap', 'rel-gamemesh-proxy'), 'proxy.yaml', SECRETS),
  );
  assert.equal(config.admin, '10.1.2.3:9090');
  find(objects, 'Deployment', 'rel-gamemesh-redis');
  const store = env(
    find(objects, 'Deployment', 'rel-gamemesh-matchmaker').spec.template.spec.initContainers[0],
    'GAMEMESH_MM_STORE',
  );
  assert.equal(store.value, 'redis://rel-gamemesh-redis:6379/0');
  assert.match(
    templateError('gamemesh', ['--set', 'metrics.serviceMonitor.enabled=true']),
    /needs proxy.admin.bind/,
  );
});

test('custom ports and resources: listeners, probes, grace period, public address, limits', () => {
  const objects = template('gamemesh', ['custom.yaml']);
  const pod = find(objects, 'DaemonSet').spec.template.spec;
  assert.equal(pod.terminationGracePeriodSeconds, 135);
  const proxy = pod.containers[0];
  assert.deepEqual(
    proxy.ports.map((p) => [p.name, p.hostPort, p.protocol]),
    [
      ['udp-game', 7000, 'UDP'],
      ['udp-keyed', 7001, 'UDP'],
      ['admin', 9190, 'TCP'],
      ['pod-api', 9191, 'TCP'],
    ],
  );
  assert.deepEqual(proxy.resources, {
    requests: { cpu: '1', memory: '512Mi' },
    limits: { cpu: '4', memory: '2Gi' },
  });
  assert.equal(env(proxy, 'GAMEMESH_PUBLIC_ADDRESS').value, '$(GAMEMESH_PUBLIC_IP):7001');
  const config = check(
    PROXY_BIN,
    renderConfig(find(objects, 'ConfigMap', 'rel-gamemesh-proxy'), 'proxy.yaml', SECRETS),
  );
  assert.equal(config.admin, '127.0.0.1:9190');
  assert.deepEqual(config.podApi, { address: '10.1.2.3:9191', heartbeatTimeoutMs: 4000 });
  assert.equal(config.listeners[0].upstream, '10.0.0.5:7777');
  assert.equal(config.matchmaker.publicAddress, '10.1.2.3:7001');
  assert.equal(config.matchmaker.cluster, 'eu-1');
  assert.equal(config.drain.deadlineSeconds, 120);
  const mm = check(
    MM_BIN,
    renderConfig(find(objects, 'ConfigMap', 'rel-gamemesh-matchmaker'), 'matchmaker.yaml', {}),
  );
  assert.deepEqual(
    mm.clusters.map((c) => c.name),
    ['eu-1'],
  );
});

test('token listener: routingTokenSecret from the routing Secret the matchmaker signs with; accepted by gamemesh-proxy --check', () => {
  const objects = template('gamemesh', ['token.yaml']);
  const ref = { name: 'prod-routing', key: 'routing' };
  const init = find(objects, 'DaemonSet').spec.template.spec.initContainers[0];
  assert.deepEqual(env(init, 'GAMEMESH_ROUTING_SECRET').valueFrom.secretKeyRef, ref);
  const mm = find(objects, 'Deployment', 'rel-gamemesh-matchmaker').spec.template.spec
    .containers[0];
  assert.deepEqual(env(mm, 'GAMEMESH_ROUTING_SECRET').valueFrom.secretKeyRef, ref);
  assert.equal(
    find(objects, 'Secret', 'rel-gamemesh-secrets').data.routing,
    undefined,
    'nothing generated for an existing Secret',
  );
  const cm = find(objects, 'ConfigMap', 'rel-gamemesh-proxy');
  assert.match(cm.data['proxy.yaml'], /\nroutingTokenSecret: __ENV_GAMEMESH_ROUTING_SECRET__\n/);
  const text = renderConfig(cm, 'proxy.yaml', SECRETS);
  const config = check(PROXY_BIN, text);
  assert.equal(config.routingTokenSecret, SECRETS.GAMEMESH_ROUTING_SECRET);
  assert.deepEqual(
    config.listeners.map((l) => [l.name, l.address, l.mode, l.upstream]),
    [
      ['game', '0.0.0.0:7777', 'token', undefined],
      ['legacy', '0.0.0.0:7000', 'port', '10.0.0.5:7777'],
    ],
  );
  assert.deepEqual(config.routes, [{ key: '0123456789abcdef', pod: 'pod-a' }]);
  assert.equal(config.matchmaker.publicAddress, '10.1.2.3:7777');
  const { GAMEMESH_ROUTING_SECRET: _, ...withoutRouting } = SECRETS;
  assert.throws(
    () => renderConfig(cm, 'proxy.yaml', withoutRouting),
    /unset environment: GAMEMESH_ROUTING_SECRET/,
  );
  const mmConfig = check(
    MM_BIN,
    renderConfig(find(objects, 'ConfigMap', 'rel-gamemesh-matchmaker'), 'matchmaker.yaml', {}),
  );
  assert.equal(mmConfig.pools[0].token, 'routing');
  // Without a token listener the proxies never see the routing secret.
  const plain = template('gamemesh');
  const plainInit = find(plain, 'DaemonSet').spec.template.spec.initContainers[0];
  assert.equal(env(plainInit, 'GAMEMESH_ROUTING_SECRET'), undefined);
  assert.doesNotMatch(
    find(plain, 'ConfigMap', 'rel-gamemesh-proxy').data['proxy.yaml'],
    /routingTokenSecret/,
  );
});

test('token listener without the matchmaker in the release: the routing secret is still generated for the proxies', () => {
  const objects = template(
    'gamemesh',
    ['token.yaml'],
    [
      '--set',
      'matchmaker.enabled=false,secrets.routingSecret.existingSecret=',
      '--set',
      'proxy.link.url=wss://mm.example/v1/link',
    ],
  );
  assert.equal(
    objects.some((o) => o.kind === 'Deployment'),
    false,
  );
  const secret = find(objects, 'Secret', 'rel-gamemesh-secrets');
  assert.deepEqual(Object.keys(secret.data).sort(), ['link-secret', 'routing']);
  assert.ok(Buffer.from(secret.data.routing, 'base64').length >= 32);
  const init = find(objects, 'DaemonSet').spec.template.spec.initContainers[0];
  assert.deepEqual(env(init, 'GAMEMESH_ROUTING_SECRET').valueFrom.secretKeyRef, {
    name: 'rel-gamemesh-secrets',
    key: 'routing',
  });
});

test('values.schema.json refuses unknown keys, bad ports and an unknown public listener', () => {
  assert.match(
    templateError('gamemesh', ['--set', 'proxy.colour=red']),
    /Additional property colour is not allowed/,
  );
  assert.match(
    templateError('gamemesh', ['--set', 'proxy.admin.port=70000']),
    /proxy.admin.port: Must be less than or equal to 65535/,
  );
  assert.match(
    templateError('gamemesh', ['--set', 'proxy.link.publicListener=nope']),
    /no listener named "nope"/,
  );
  assert.match(
    templateError('gamemesh', ['--set', 'matchmaker.replicas=3']),
    /needs a shared store/,
  );
  assert.match(
    templateError('gamemesh', ['--set', 'proxy.podApi.port=0']),
    /proxy.podApi.port: Must be greater than or equal to 1/,
  );
  assert.match(
    templateError('gamemesh', ['--set', 'proxy.podApi.port=9090']),
    /proxy.podApi.port and proxy.admin.port must differ/,
  );
  assert.match(
    templateError('gamemesh', [
      '-f',
      join(here, 'values', 'token.yaml'),
      '--set',
      'proxy.listeners[0].mode=tunnel',
    ]),
    /mode must be one of the following: "port", "key", "token"/,
  );
  assert.match(
    templateError('gamemesh', [
      '-f',
      join(here, 'values', 'token.yaml'),
      '--set-json',
      'proxy.listeners=[{"name":"game","port":7777,"mode":"token","upstream":"10.0.0.5:7777","public":true}]',
    ]),
    /"game" is in token mode, which routes by the client's token: remove its upstream/,
  );
  assert.match(templateError('game-server', ['--set', 'game.protocol=tcp']), /protocol/);
});

test('game-server: pods find their node proxy through status.hostIP and declare protocol, port, capacity', () => {
  const objects = template(
    'game-server',
    [],
    ['--set', 'game.protocol=netcode,game.port=40000,game.capacity=64,proxy.registrationPort=9300'],
  );
  const c = find(objects, 'Deployment').spec.template.spec.containers[0];
  assert.deepEqual(env(c, 'GAMEMESH_NODE_IP').valueFrom, {
    fieldRef: { fieldPath: 'status.hostIP' },
  });
  assert.equal(env(c, 'GAMEMESH_PROXY_ADDR').value, '$(GAMEMESH_NODE_IP):9300');
  assert.equal(
    c.env.findIndex((e) => e.name === 'GAMEMESH_NODE_IP') <
      c.env.findIndex((e) => e.name === 'GAMEMESH_PROXY_ADDR'),
    true,
  );
  assert.equal(env(c, 'GAMEMESH_PROTOCOL').value, 'netcode');
  assert.equal(env(c, 'GAMEMESH_GAME_PORT').value, '40000');
  assert.equal(env(c, 'GAMEMESH_CAPACITY').value, '64');
  assert.deepEqual(c.ports, [{ name: 'game', containerPort: 40000, protocol: 'UDP' }]);
});

test('docs/helm.md holds the values reference generated from both values.schema.json', () => {
  const doc = readFileSync(join(root, 'docs', 'helm.md'), 'utf8');
  for (const chart of ['gamemesh', 'game-server']) {
    const schema = JSON.parse(readFileSync(join(charts, chart, 'values.schema.json'), 'utf8'));
    assert.ok(
      doc.includes(valuesReference(schema)),
      `regenerate with: node deploy/helm/test/values-doc.mjs ${chart}`,
    );
  }
});

let passed = 0;
let failed = 0;
for (const { name, fn } of tests) {
  try {
    fn();
    passed += 1;
    process.stdout.write(`ok   ${name}\n`);
  } catch (error) {
    failed += 1;
    process.stdout.write(
      `FAIL ${name}\n     ${String(error.stack ?? error)
        .split('\n')
        .slice(0, 6)
        .join('\n     ')}\n`,
    );
  }
}
process.stdout.write(`helm charts: ${passed} passed, ${failed} failed\n`);
process.exitCode = failed === 0 ? 0 : 1;
