import type { Datagram } from '@gamemesh/core';
import {
  cryptNoneFraming,
  fecFraming,
  kcp2kFraming,
  kcp2kUnreliable,
} from '../support/kcp-framing.js';
import {
  type KcpExchangeOptions,
  type KcpExchangeResult,
  runKcpExchange,
} from '../support/kcp-peers.js';

/**
 * Real-peer KCP traffic for the tests: node-kcp endpoints over loopback
 * through the recording relay, bare or wrapped in kcp-go / kcp2k framing.
 */

/** conv low byte 0x90 reads as RTP V=2 (PROTOCOLS.md §5.2); this conversation also loses datagrams. */
export const LOSSY_CONV = 0x12345690;
export const CLEAN_CONV = 7;
export const KCP2K_COOKIE = 0x5eed1234;

const encoder = new TextEncoder();

/** A dozen messages, one of 3000 bytes so it is split into three fragments (frg 2, 1, 0). */
export function messages(tag: string): Uint8Array[] {
  return Array.from({ length: 12 }, (_, i) =>
    encoder.encode(`${tag}-${i}-`.padEnd(i === 5 ? 3000 : 40 + i, 'x')),
  );
}

/**
 * Deterministic loss: reverse datagrams 3..12 of the lossy conversation are
 * dropped before the relay records them, so the client's PUSHes (already
 * recorded) go unacknowledged and are sent again.
 */
export function lossyFilter(): (datagram: Datagram) => boolean {
  let reverse = 0;
  return (datagram) => {
    const d = datagram.data;
    const conv = d.length >= 4 ? (d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24)) >>> 0 : -1;
    if (conv !== LOSSY_CONV || datagram.direction !== 'reverse') return true;
    reverse++;
    return reverse < 3 || reverse > 12;
  };
}

export function rawExchange(
  extra: Pick<KcpExchangeOptions, 'onBound'> = {},
): Promise<KcpExchangeResult> {
  return runKcpExchange({
    ...extra,
    conversations: [
      { conv: LOSSY_CONV, messages: messages('lossy') },
      { conv: CLEAN_CONV, messages: messages('clean') },
    ],
    filter: lossyFilter(),
  });
}

export function fecExchange(): Promise<KcpExchangeResult> {
  return runKcpExchange({
    conversations: [{ conv: 0xfec0001, messages: messages('fec') }],
    framing: fecFraming(3),
  });
}

export function cryptNoneExchange(withFec: boolean): Promise<KcpExchangeResult> {
  return runKcpExchange({
    conversations: [{ conv: withFec ? 0xc0de0002 : 0xc0de0001, messages: messages('crypt') }],
    framing: cryptNoneFraming(withFec ? fecFraming(3) : null),
  });
}

/** kcp2k: reliable traffic, then two unreliable data messages from the client and the server's five Disconnects (KcpPeer.cs SendDisconnect). */
export function kcp2kExchange(): Promise<KcpExchangeResult> {
  const framing = kcp2kFraming(KCP2K_COOKIE);
  return runKcpExchange({
    conversations: [{ conv: 0, messages: messages('kcp2k') }],
    framing,
    epilogue: (_index, send) => {
      send.fromClient(kcp2kUnreliable(framing.clientCookie(), 4, encoder.encode('unreliable-1')));
      send.fromClient(kcp2kUnreliable(framing.clientCookie(), 4, encoder.encode('unreliable-2')));
      for (let i = 0; i < 5; i++) send.fromServer(kcp2kUnreliable(KCP2K_COOKIE, 5));
    },
  });
}
