import { defineProtocol, type ProtocolFactory } from '@gamemesh/core';
import { parseDatagram, readConnectFields } from './parse.js';
import { createProbe, PROBE_REASONS } from './probe.js';
import { Command } from './protocol.js';
import { createTracker, type EnetStats } from './tracker.js';

/**
 * ENet (lsalzman/enet, the transport of Godot's ENetMultiplayerPeer and many
 * engines) as a gamemesh protocol plugin. Uses only the public API of
 * @gamemesh/core, so it is also the template for third-party plugins.
 *
 * Load it with `gamemesh-inspect --plugin <path to dist/src/index.js>` or
 * register it: `createRegistry({ protocols: [...builtins, enet.create()] })`.
 */

export interface EnetConfig {
  /**
   * The hosts run with a checksum callback (`host->checksum = enet_crc32`):
   * every header then carries 4 more bytes. Both ends must agree, so a
   * listener either has it on or off.
   */
  readonly checksum: boolean;
}

export const enet: ProtocolFactory<EnetConfig, EnetStats> = defineProtocol<EnetConfig, EnetStats>({
  name: 'enet',
  version: '1.0.0',
  reasons: PROBE_REASONS,
  defaults: { checksum: false },
  build(config) {
    const options = { checksum: config.checksum };
    return {
      probe: createProbe(options),
      // The connect ID names the session; only CONNECT and VERIFY_CONNECT carry it.
      routingKey(datagram) {
        const parsed = parseDatagram(datagram.data, options);
        if (!parsed.ok) return null;
        for (const command of parsed.commands) {
          if (command.number === Command.CONNECT || command.number === Command.VERIFY_CONNECT) {
            return String(readConnectFields(datagram.data, command).connectId);
          }
        }
        return null;
      },
      createTracker: () => createTracker(options),
    };
  },
});

export default enet;

export {
  type EnetCommand,
  type EnetDatagram,
  PARSE_CODES,
  type ParseResult,
  parseDatagram,
} from './parse.js';
export { PROBE_REASONS } from './probe.js';
export type { EnetStats } from './tracker.js';
