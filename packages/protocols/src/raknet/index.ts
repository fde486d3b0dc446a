import { type ConfigIssue, defineProtocol, type Parsed, parseShallowConfig } from '@gamemesh/core';
import { createRakNetProbe, rakNetRoutingKey } from './probe.js';
import { RAKNET_REASONS } from './reasons.js';
import { createRakNetTracker, type RakNetStats } from './tracker.js';

/**
 * RakNet (RakNet 4.x and the Minecraft Bedrock variant). Routing key: the
 * client GUID (u64, decimal). Sessions open on OPEN_CONNECTION_REQUEST_2 (or
 * the first data datagram of a flow picked up mid-session) and close on
 * ID_DISCONNECTION_NOTIFICATION or a server refusal.
 */
export interface RakNetConfig {
  /**
   * Data datagrams (both directions together) with valid frames and
   * continuous per-direction sequence numbers needed to match a flow picked
   * up mid-session, without its handshake (PROTOCOLS.md §5.1: 3-5).
   */
  readonly midSessionDatagrams: number;
}

const DEFAULTS: RakNetConfig = Object.freeze({ midSessionDatagrams: 3 });

// The classifier keeps at most 64 datagrams per direction of history.
const MAX_MID_SESSION_DATAGRAMS = 64;

function parseRakNetConfig(raw: unknown, defaults: RakNetConfig): Parsed<RakNetConfig> {
  const parsed = parseShallowConfig(raw, defaults);
  if (!parsed.ok) return parsed;
  const issues: ConfigIssue[] = [];
  const needed = parsed.value.midSessionDatagrams;
  // Fewer than 2 would match one datagram with no sequence evidence at all.
  if (!Number.isInteger(needed) || needed < 2 || needed > MAX_MID_SESSION_DATAGRAMS) {
    issues.push({
      path: '/midSessionDatagrams',
      message: `must be an integer in 2..${MAX_MID_SESSION_DATAGRAMS}`,
    });
  }
  return issues.length > 0 ? { ok: false, issues } : parsed;
}

export const raknet = defineProtocol<RakNetConfig, RakNetStats>({
  name: 'raknet',
  version: '1.0.0',
  reasons: RAKNET_REASONS,
  defaults: DEFAULTS,
  parseConfig: parseRakNetConfig,
  build: (config) => ({
    probe: createRakNetProbe({ midSessionDatagrams: config.midSessionDatagrams }),
    routingKey: rakNetRoutingKey,
    createTracker: () => createRakNetTracker(),
  }),
});

export { MESSAGE_ID, OFFLINE_MAGIC } from './constants.js';
export {
  type ConnectedDatagram,
  type ConnectedKind,
  type ConnectedParse,
  checkConnectedDatagram,
  connectedKind,
  type FrameView,
  type FrameVisitor,
  parseConnectedDatagram,
  type SequenceRange,
  sequenceDistance,
  walkAckRecords,
  walkDataFrames,
} from './datagram.js';
export { type ConnectedMessage, readConnectedMessage } from './messages.js';
export {
  checkOfflineMessage,
  DENIAL_IDS,
  isOfflineId,
  type OfflineMessage,
  type OfflineMessageName,
  type OfflineParse,
  parseOfflineMessage,
} from './offline.js';
export { CONNECTED_VARIANT, OFFLINE_VARIANT, rakNetRoutingKey } from './probe.js';
export {
  DATAGRAM_CODES,
  type DatagramCode,
  OFFLINE_CODES,
  type OfflineCode,
  RAKNET_REASONS,
} from './reasons.js';
export type { RakNetStats } from './tracker.js';
