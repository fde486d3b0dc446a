/**
 * Simulated node proxies for both clusters, in their own process, each on
 * the real link client (`LinkClient` from @gamemesh/matchmaker/link): signed
 * handshake, register with pods, heartbeats, and every assignment installed
 * in the routing table before it is acknowledged, as a node proxy does.
 * No UDP player traffic follows: the benchmark ends at the assignment.
 *
 *   node proxies.js ws://127.0.0.1:PORT/v1/link
 *
 * Prints `{"event":"ready","nodes":N}` once every node is registered and
 * resynced; answers `stats` on stdin with the assignments and routes held.
 */
import { createInterface } from 'node:readline';
import { LinkClient, type RouteAssignment } from '@gamemesh/matchmaker/link';
import { CLUSTERS, LINK_SECRET, NODES_PER_CLUSTER, podsFor } from './setup.js';

const url = process.argv[2];
if (url === undefined) {
  process.stderr.write('usage: proxies.js ws://HOST:PORT/v1/link\n');
  process.exit(2);
}

const assignsByCluster = new Map<string, { frames: number; routes: number }>();
const clients: LinkClient[] = [];
let nodeIndex = 0;
for (const cluster of CLUSTERS) {
  const counts = { frames: 0, routes: 0 };
  assignsByCluster.set(cluster.name, counts);
  for (let n = 0; n < NODES_PER_CLUSTER; n++) {
    const id = `${cluster.name}-node-${n}`;
    const index = nodeIndex++;
    clients.push(
      new LinkClient({
        url,
        secret: LINK_SECRET,
        node: {
          id,
          cluster: cluster.name,
          region: cluster.region,
          publicAddress: `192.0.2.${index + 1}:7777`,
        },
        pods: podsFor(id, index),
        // Called for every assign frame; accepting (null) lets the client
        // install the routes and then ack, which is the proxy's behaviour.
        refuse: (routes: readonly RouteAssignment[]) => {
          counts.frames++;
          counts.routes += routes.length;
          return null;
        },
      }),
    );
  }
}

function stop(): void {
  for (const client of clients) client.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'stats') return;
  const held = clients.reduce((n, c) => n + c.routes().length, 0);
  const connected = clients.filter((c) => c.connected).length;
  process.stdout.write(
    `${JSON.stringify({
      event: 'stats',
      connected,
      routesHeld: held,
      assigns: Object.fromEntries(assignsByCluster),
    })}\n`,
  );
});

await Promise.all(clients.map((client) => client.start().ready()));
process.stdout.write(`${JSON.stringify({ event: 'ready', nodes: clients.length })}\n`);
