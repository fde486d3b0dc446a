import { u16be, u32le } from '@gamemesh/core';

/**
 * The UDP payloads of a classic little-endian, microsecond pcap file with
 * Ethernet link type and IPv4 — exactly what `tcpdump -i lo -w` writes on
 * Linux; anything else is skipped. Enough to replay the fixture capture.
 */
export interface CapturedUdp {
  readonly at: number;
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly payload: Uint8Array;
}

const PCAP_MAGIC_LE_MICROS = 0xa1b2c3d4;
const LINKTYPE_ETHERNET = 1;
const FILE_HEADER = 24;
const RECORD_HEADER = 16;
const ETHERNET_HEADER = 14;
const ETHERTYPE_IPV4 = 0x0800;
const IP_PROTOCOL_UDP = 17;
const UDP_HEADER = 8;

export function readPcapUdp(file: Uint8Array): CapturedUdp[] {
  if (file.length < FILE_HEADER || u32le(file, 0) !== PCAP_MAGIC_LE_MICROS) {
    throw new Error('not a little-endian microsecond pcap file');
  }
  if (u32le(file, 20) !== LINKTYPE_ETHERNET) throw new Error('link type is not Ethernet');
  const out: CapturedUdp[] = [];
  for (let at = FILE_HEADER; at + RECORD_HEADER <= file.length; ) {
    const seconds = u32le(file, at);
    const micros = u32le(file, at + 4);
    const length = u32le(file, at + 8);
    const frame = file.subarray(at + RECORD_HEADER, at + RECORD_HEADER + length);
    at += RECORD_HEADER + length;
    if (frame.length < ETHERNET_HEADER + 20 || u16be(frame, 12) !== ETHERTYPE_IPV4) continue;
    const ip = frame.subarray(ETHERNET_HEADER);
    const ipHeader = (ip[0]! & 0x0f) * 4;
    if (ip[9] !== IP_PROTOCOL_UDP || ip.length < ipHeader + UDP_HEADER) continue;
    const udp = ip.subarray(ipHeader, u16be(ip, 2));
    out.push({
      at: seconds * 1000 + micros / 1000,
      sourcePort: u16be(udp, 0),
      destinationPort: u16be(udp, 2),
      payload: udp.slice(UDP_HEADER, u16be(udp, 4)),
    });
  }
  return out;
}
