// The ports of the local demo, all on loopback: the listeners of the
// matchmaker and the proxy, and free ones for the game servers.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

const HOST = '127.0.0.1';

/** Ports a newcomer can remember; `GAMEMESH_DEMO_PORTS=auto` picks free ones (tests, busy machines). */
const FIXED_PORTS = {
  matchmaker: 8080,
  admin: 9090,
  pods: 9091,
  netcode: 7777,
  raknet: 19132,
};

function freeTcpPort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, HOST, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

export async function choosePorts(mode) {
  if (mode !== 'auto') return { ...FIXED_PORTS };
  return {
    matchmaker: await freeTcpPort(),
    admin: await freeTcpPort(),
    pods: await freeTcpPort(),
    netcode: await freeUdpPort(),
    raknet: await freeUdpPort(),
  };
}
