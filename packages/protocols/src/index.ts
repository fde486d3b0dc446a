import type { Protocol } from '@gamemesh/core';
import { type KcpConfig, kcp } from './kcp/index.js';
import { type NetcodeConfig, netcode } from './netcode/index.js';
import { type RakNetConfig, raknet } from './raknet/index.js';
import { createRtpFamily, type RtcpConfig, type RtpConfig, rtcp, rtp } from './rtp/index.js';

export type { KcpConfig, NetcodeConfig, RakNetConfig, RtcpConfig, RtpConfig };
export { createRtpFamily, kcp, netcode, raknet, rtcp, rtp };

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
