import { createClassifier, createFlow, createRegistry, type Datagram } from '@gamemesh/core';
import { kcp } from '@gamemesh/protocols';
import type { NativeConfig } from './support.js';

/** The KCP protocol as configured, and its framing options. */
export type KcpProtocol = ReturnType<typeof kcp.create>;

/** gm_kcp_variant in native/src/trackers/kcp.h; strings that are no variant mean auto-detection (0). */
const NATIVE_VARIANT: Readonly<Record<string, number>> = {
  raw: 1,
  fec: 2,
  'crypt-none': 3,
  kcp2k: 4,
};
const NO_FEC = 0x10;
const NO_CRYPT_NONE = 0x20;
const NO_KCP2K = 0x40;

/** The native tracker config for a TS tracker created with `variant` under `protocol`'s config. */
export function nativeKcpConfig(variant: string, protocol: KcpProtocol): NativeConfig {
  const options = protocol.config;
  let id = NATIVE_VARIANT[variant] ?? 0;
  if (!options.fec) id |= NO_FEC;
  if (!options.cryptNone) id |= NO_CRYPT_NONE;
  if (!options.kcp2k) id |= NO_KCP2K;
  return { variant: id, maxPushLen: options.maxPushLength };
}

/** The variant the classifier pins a flow to, as the proxy hands it to the tracker. */
export function classifiedKcpVariant(
  datagrams: readonly Datagram[],
  protocol: KcpProtocol = kcp.create(),
): string {
  const flow = createFlow(createClassifier(createRegistry({ protocols: [protocol] })));
  for (const datagram of datagrams) {
    flow.observe(datagram);
    if (flow.classification.state === 'matched') return flow.classification.variant;
  }
  throw new Error(`flow of ${datagrams.length} datagrams never matched KCP`);
}
