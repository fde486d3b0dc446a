import { u16be, u32be, u32le } from '@gamemesh/core';
import type { SkipReason } from '../errors.js';

/**
 * Link layers: where the IP packet starts inside a captured frame. Link-type
 * numbers and header layouts follow tcpdump.org/linktypes.html.
 */

export const LINK_TYPES = {
  null: 0,
  ethernet: 1,
  rawDlt12: 12,
  rawDlt14: 14,
  raw: 101,
  loop: 108,
  linuxSll: 113,
  ipv4: 228,
  ipv6: 229,
  linuxSll2: 276,
} as const;

/** IP version the link layer announced; `any` means: read the IP version nibble. */
export type IpHint = 4 | 6 | 'any';

export interface LinkPayload {
  readonly offset: number;
  readonly ip: IpHint;
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
// 802.1Q, 802.1ad (QinQ outer) and the pre-standard 0x9100 outer tag.
const ETHERTYPE_VLAN = new Set([0x8100, 0x88a8, 0x9100]);
const MAX_VLAN_TAGS = 8;

// BSD AF_INET6 differs per OS: 24 NetBSD/OpenBSD, 28 FreeBSD, 30 Darwin (linktypes.html, LINKTYPE_NULL).
const BSD_AF_INET = 2;
const BSD_AF_INET6 = new Set([24, 28, 30]);

/** Finds the IP packet in `frame`, or says why there is none. */
export function locateIp(linkType: number, frame: Uint8Array): LinkPayload | SkipReason {
  switch (linkType) {
    case LINK_TYPES.ethernet:
      return ethernet(frame);
    case LINK_TYPES.linuxSll:
      // 16-byte header, protocol (an ethertype) at 14.
      return frame.length < 16 ? 'bad_link' : byEthertype(u16be(frame, 14), 16);
    case LINK_TYPES.linuxSll2:
      // 20-byte header, protocol type at 0.
      return frame.length < 20 ? 'bad_link' : byEthertype(u16be(frame, 0), 20);
    case LINK_TYPES.null:
      return bsdFamily(frame, false);
    case LINK_TYPES.loop:
      return bsdFamily(frame, true);
    case LINK_TYPES.raw:
    case LINK_TYPES.rawDlt12:
    case LINK_TYPES.rawDlt14:
      return RAW_ANY;
    case LINK_TYPES.ipv4:
      return RAW_V4;
    case LINK_TYPES.ipv6:
      return RAW_V6;
    default:
      return 'unsupported_link';
  }
}

export function isSupportedLink(linkType: number): boolean {
  return (Object.values(LINK_TYPES) as number[]).includes(linkType);
}

const RAW_ANY: LinkPayload = Object.freeze({ offset: 0, ip: 'any' });
const RAW_V4: LinkPayload = Object.freeze({ offset: 0, ip: 4 });
const RAW_V6: LinkPayload = Object.freeze({ offset: 0, ip: 6 });

function ethernet(frame: Uint8Array): LinkPayload | SkipReason {
  if (frame.length < 14) return 'bad_link';
  let offset = 12;
  let type = u16be(frame, offset);
  for (let tags = 0; ETHERTYPE_VLAN.has(type); tags++) {
    if (tags === MAX_VLAN_TAGS || frame.length < offset + 6) return 'bad_link';
    offset += 4;
    type = u16be(frame, offset);
  }
  return byEthertype(type, offset + 2);
}

function byEthertype(type: number, offset: number): LinkPayload | SkipReason {
  if (type === ETHERTYPE_IPV4) return { offset, ip: 4 };
  if (type === ETHERTYPE_IPV6) return { offset, ip: 6 };
  return 'not_ip';
}

function bsdFamily(frame: Uint8Array, networkOrder: boolean): LinkPayload | SkipReason {
  if (frame.length < 4) return 'bad_link';
  let family: number;
  if (networkOrder) {
    family = u32be(frame, 0);
  } else {
    // Host byte order of the capturing machine, which the file does not say:
    // family values are small, so the order in which the value is small wins.
    const little = u32le(frame, 0);
    family = little <= 0xffff ? little : u32be(frame, 0);
  }
  if (family === BSD_AF_INET) return { offset: 4, ip: 4 };
  if (BSD_AF_INET6.has(family)) return { offset: 4, ip: 6 };
  return 'not_ip';
}
