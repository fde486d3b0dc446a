import { type Datagram, defineProtocol, hex } from '@gamemesh/core';
import { NETCODE_DEFAULTS, type NetcodeConfig, parseNetcodeConfig } from './config.js';
import { createProbe } from './probe.js';
import { NETCODE_REASONS } from './reasons.js';
import { requestVersion } from './shape.js';
import { NetcodeTracker } from './tracker.js';
import { fromHex, writeU64le } from './wire.js';

/**
 * netcode 1.02 (mas-bandwidth/netcode): the protocol plugin, plus the
 * TypeScript implementation the matchmaker mints tokens with and the proxy
 * tests run as real peers.
 */

export const netcode = defineProtocol<NetcodeConfig>({
  name: 'netcode',
  version: '1.0.0',
  reasons: NETCODE_REASONS,
  defaults: NETCODE_DEFAULTS,
  parseConfig: parseNetcodeConfig,
  build(config) {
    const privateKey = config.privateKey === null ? null : fromHex(config.privateKey);
    const allowed =
      config.protocolIds === null
        ? null
        : config.protocolIds.map((id) => {
            const bytes = new Uint8Array(8);
            writeU64le(bytes, 0, BigInt(id));
            return bytes;
          });
    return {
      probe: createProbe(allowed),
      // The token tag (last 16 bytes of the request) names the session; later packets carry no identity.
      routingKey: (datagram: Datagram) => {
        const b = datagram.data;
        return requestVersion(b) === null ? null : hex(b, b.length - 16, 16);
      },
      createTracker: () => new NetcodeTracker({ privateKey }),
    };
  },
});

export * from './address.js';
export {
  NetcodeClient,
  type NetcodeClientEvents,
  type NetcodeClientOptions,
  type NetcodeClientState,
} from './client.js';
export type { NetcodeConfig } from './config.js';
export * from './constants.js';
export {
  OPEN_REQUEST_CODES,
  type OpenedRequest,
  type OpenRequestCode,
  type OpenRequestOptions,
  type OpenRequestResult,
  openConnectionRequest,
} from './open-request.js';
export * from './packets.js';
export { NETCODE_REASONS } from './reasons.js';
export {
  NetcodeServer,
  type NetcodeServerClient,
  type NetcodeServerEvents,
  type NetcodeServerOptions,
  type ServerDisconnectReason,
} from './server.js';
export * from './token.js';
export { NetcodeTracker } from './tracker.js';
