import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Keeps the records of a little-endian, microsecond pcap (what tcpdump writes
 * on Linux) whose UDP source or destination port is in `ports`, so a capture
 * of all loopback UDP holds only the sample's own sessions. Link types:
 * Ethernet (1, tcpdump's type for `lo`) and Linux cooked v1 (113), IPv4 only.
 * Datagrams a socket sends to itself (source port = destination port on
 * loopback: raknet-native's 4-byte socket wake-ups) are left out too: they
 * never leave the host, so no proxy ever sees them.
 */

const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;
const LINK_ETHERNET = 1;
const LINK_LINUX_SLL = 113;
const ETHERTYPE_IPV4 = 0x0800;
const IP_PROTOCOL_UDP = 17;

function udpPorts(frame: Uint8Array, linkType: number): [number, number] | null {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const ipStart = linkType === LINK_ETHERNET ? 14 : linkType === LINK_LINUX_SLL ? 16 : -1;
  if (ipStart < 0 || frame.length < ipStart + 20) return null;
  if (view.getUint16(ipStart - 2) !== ETHERTYPE_IPV4) return null;
  const ihl = (frame[ipStart]! & 0x0f) * 4;
  if (frame[ipStart + 9] !== IP_PROTOCOL_UDP || frame.length < ipStart + ihl + 4) return null;
  return [view.getUint16(ipStart + ihl), view.getUint16(ipStart + ihl + 2)];
}

export function keepUdpPorts(
  input: string,
  output: string,
  ports: ReadonlySet<number>,
): { kept: number; dropped: number } {
  const file = new Uint8Array(readFileSync(input));
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (file.length < GLOBAL_HEADER || view.getUint32(0, true) !== 0xa1b2c3d4) {
    throw new Error(`${input}: not a little-endian microsecond pcap`);
  }
  const linkType = view.getUint32(20, true);
  const parts: Uint8Array[] = [file.subarray(0, GLOBAL_HEADER)];
  let kept = 0;
  let dropped = 0;
  for (let offset = GLOBAL_HEADER; offset + RECORD_HEADER <= file.length; ) {
    const captured = view.getUint32(offset + 8, true);
    const end = offset + RECORD_HEADER + captured;
    // tcpdump stopped mid-record: drop the torn tail.
    if (end > file.length) break;
    const endpoints = udpPorts(file.subarray(offset + RECORD_HEADER, end), linkType);
    const self = endpoints !== null && endpoints[0] === endpoints[1];
    if (endpoints !== null && !self && (ports.has(endpoints[0]) || ports.has(endpoints[1]))) {
      parts.push(file.subarray(offset, end));
      kept++;
    } else {
      dropped++;
    }
    offset = end;
  }
  writeFileSync(output, Buffer.concat(parts));
  return { kept, dropped };
}
