import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { netcode } from '@gamemesh/protocols/netcode';
import type { LinkClient } from '../../src/link/client.js';

/**
 * The node proxy's `key` routing step, reduced to what the end-to-end test
 * needs: the first datagram of a client is keyed with the real netcode
 * plugin's `routingKey` (the connect token tag), the key is looked up in the
 * link client's assignment table, and the flow is pinned 1:1 to that pod
 * (netcode servers key clients by source address). Unknown keys are dropped.
 */
export interface KeyRouter {
  readonly port: number;
  readonly routed: Map<string, string>;
  readonly dropped: number;
  close(): Promise<void>;
}

export async function startKeyRouter(
  link: Pick<LinkClient, 'lookup' | 'consume'>,
  pods: ReadonlyMap<string, number>,
): Promise<KeyRouter> {
  const protocol = netcode.create({});
  const listener = createSocket('udp4');
  const flows = new Map<string, Socket>();
  const routed = new Map<string, string>();
  let dropped = 0;
  listener.on('message', (data: Buffer, from: RemoteInfo) => {
    const id = `${from.address}:${from.port}`;
    const upstream = flows.get(id);
    if (upstream !== undefined) {
      upstream.send(data);
      return;
    }
    const key = protocol.routingKey({
      data: new Uint8Array(data),
      direction: 'forward',
      at: Date.now(),
    });
    const route = key === null ? undefined : link.lookup(key);
    const podPort = route === undefined ? undefined : pods.get(route.pod);
    if (route === undefined || podPort === undefined || key === null) {
      dropped++;
      return;
    }
    const socket = createSocket('udp4');
    flows.set(id, socket);
    routed.set(route.playerId, route.pod);
    link.consume(key);
    socket.on('message', (reply: Buffer) => listener.send(reply, from.port, from.address));
    socket.connect(podPort, '127.0.0.1', () => socket.send(data));
  });
  await new Promise<void>((resolve) => listener.bind(0, '127.0.0.1', () => resolve()));
  return {
    port: listener.address().port,
    routed,
    get dropped() {
      return dropped;
    },
    async close() {
      for (const socket of flows.values()) socket.close();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}
