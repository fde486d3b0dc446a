import { type ConfigIssue, defineProtocol, type Parsed, parseShallowConfig } from '@gamemesh/core';
import { createKcpProbe, createKcpRoutingKey } from './probe.js';
import { KCP_REASONS } from './reasons.js';
import { DEFAULT_MAX_PUSH_LENGTH } from './segment.js';
import { createKcpTracker, type KcpStats } from './tracker.js';
import type { FramingOptions } from './variants.js';

/**
 * KCP (skywind3000/kcp) and the framings around it: raw, kcp-go FEC, kcp-go
 * crypt=none and Mirror's kcp2k. Routing key: the conversation id (conv) in
 * decimal; for kcp2k, whose conv is always 0, the server-assigned cookie in
 * decimal (null until the server's first datagram carries it).
 */
export interface KcpConfig extends FramingOptions {
  /** Longest PUSH payload the walk accepts (reference mss is 1376; default 1476 for MTU-1500 stacks). */
  readonly maxPushLength: number;
  /** Accept kcp-go FEC framing (0xF1/0xF2/0xF3 at offset 4). */
  readonly fec: boolean;
  /** Accept kcp-go NoneBlockCrypt framing (CRC-32 at offset 16). */
  readonly cryptNone: boolean;
  /** Accept Mirror kcp2k framing (channel byte + cookie). */
  readonly kcp2k: boolean;
}

const DEFAULTS: KcpConfig = Object.freeze({
  maxPushLength: DEFAULT_MAX_PUSH_LENGTH,
  fec: true,
  cryptNone: true,
  kcp2k: true,
});

// The largest UDP payload over IPv4; a longer PUSH cannot exist.
const MAX_UDP_PAYLOAD = 65507;

function parseKcpConfig(raw: unknown, defaults: KcpConfig): Parsed<KcpConfig> {
  const parsed = parseShallowConfig(raw, defaults);
  if (!parsed.ok) return parsed;
  const issues: ConfigIssue[] = [];
  const max = parsed.value.maxPushLength;
  if (!Number.isInteger(max) || max < 0 || max > MAX_UDP_PAYLOAD) {
    issues.push({ path: '/maxPushLength', message: `must be an integer in 0..${MAX_UDP_PAYLOAD}` });
  }
  return issues.length > 0 ? { ok: false, issues } : parsed;
}

export const kcp = defineProtocol<KcpConfig, KcpStats>({
  name: 'kcp',
  version: '1.0.0',
  reasons: KCP_REASONS,
  defaults: DEFAULTS,
  parseConfig: parseKcpConfig,
  build(config) {
    return {
      probe: createKcpProbe(config),
      routingKey: createKcpRoutingKey(config),
      createTracker: (context) => createKcpTracker(context.variant, config),
    };
  },
});

export { crc32Ieee } from './crc32.js';
export { createKcpProbe, createKcpRoutingKey } from './probe.js';
export {
  KCP_MATCH_REASONS,
  KCP_NEED_MORE_REASONS,
  KCP_NO_REASONS,
  KCP_REASONS,
} from './reasons.js';
export {
  createWalkSummary,
  DEFAULT_MAX_PUSH_LENGTH,
  KCP_CMD_ACK,
  KCP_CMD_PUSH,
  KCP_CMD_WASK,
  KCP_CMD_WINS,
  KCP_OVERHEAD,
  type KcpSegment,
  type ParsedSegments,
  parseSegments,
  readSegmentHeader,
  WALK_CODES,
  type WalkCode,
  type WalkSummary,
  walkSegments,
} from './segment.js';
export { createKcpTracker, type KcpStats } from './tracker.js';
export {
  createFrame,
  detectFrame,
  FRAME_CODES,
  type FrameCode,
  type FramingOptions,
  KCP_VARIANTS,
  type KcpFrame,
  type KcpVariant,
  readFrameAs,
  type UnwrappedKcp,
  unwrapKcp,
} from './variants.js';
