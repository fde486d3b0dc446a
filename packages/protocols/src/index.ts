import type { Protocol } from '@gamemesh/core';
import { kcp, type KcpConfig } from './kcp/index.js';
import { netcode, type NetcodeConfig } from './netcode/index.js';
import { raknet, type RakNetConfig } from './raknet/index.js';
import { createRtpFamily, rtcp, rtp, type RtcpConfig, type RtpConfig } from './rtp/index.js';

export { createRtpFamily, kcp, netcode, raknet, rtcp, rtp };
export type { KcpConfig, NetcodeConfig, RakNetConfig, RtcpConfig, RtpConfig };

export interface BuiltinConfig {
  readonly netcode?: Partial<NetcodeConfig>;
  readonly raknet?: Partial<RakNetConfig>;
  readonly rtcp?: Partial<RtcpConfig>;
  readonly kcp?: Partial<KcpConfig>;
  readonly rtp?: Partial<RtpConfig>;
}

/**
 * The built-in protocols in classification order (PROTOCOLS.md §5.4): the
 * decisive single-datagram checks first (netcode request, RakNet magic, RTCP
 * length sum), then the strict KCP walk before RTP, whose candidates need
 * sequence continuity over several datagrams. `rtcp` and `rtp` come from one
 * family so SRs on the RTCP flow give the RTP flow its clock rate.
 */
export function builtinProtocols(config: BuiltinConfig = {}): Protocol[] {
  const rtpFamily = createRtpFamily({ rtp: config.rtp, rtcp: config.rtcp });
  return [
    netcode.create(config.netcode),
    raknet.create(config.raknet),
    rtpFamily.rtcp,
    kcp.create(config.kcp),
    rtpFamily.rtp,
  ] as Protocol[];
}
