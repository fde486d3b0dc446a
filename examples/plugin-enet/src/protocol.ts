/**
 * ENet wire constants. Every number here is from lsalzman/enet
 * `include/enet/protocol.h` (as shipped by Debian's libenet-dev 1.3.17);
 * sender and receiver behaviour is from `protocol.c` / `peer.c` of the same
 * release. All multi-byte fields are big-endian (ENET_HOST_TO_NET_*).
 */

// protocol.h: enum { ENET_PROTOCOL_MINIMUM_MTU ... }
export const MINIMUM_MTU = 576;
export const MAXIMUM_MTU = 4096;
export const MAXIMUM_PACKET_COMMANDS = 32;
export const MINIMUM_WINDOW_SIZE = 4096;
export const MAXIMUM_WINDOW_SIZE = 65536;
export const MINIMUM_CHANNEL_COUNT = 1;
export const MAXIMUM_CHANNEL_COUNT = 255;
/** Peer id 0xFFF in the header means "no peer yet": only CONNECT is valid then. */
export const NO_PEER_ID = 0xfff;

// protocol.h: ENetProtocolCommand
export const Command = {
  ACKNOWLEDGE: 1,
  CONNECT: 2,
  VERIFY_CONNECT: 3,
  DISCONNECT: 4,
  PING: 5,
  SEND_RELIABLE: 6,
  SEND_UNRELIABLE: 7,
  SEND_FRAGMENT: 8,
  SEND_UNSEQUENCED: 9,
  BANDWIDTH_LIMIT: 10,
  THROTTLE_CONFIGURE: 11,
  SEND_UNRELIABLE_FRAGMENT: 12,
} as const;
export type CommandNumber = (typeof Command)[keyof typeof Command];
export const COMMAND_COUNT = 13;
export const COMMAND_MASK = 0x0f;

// protocol.h: ENetProtocolFlag
export const COMMAND_FLAG_ACKNOWLEDGE = 0x80;
export const COMMAND_FLAG_UNSEQUENCED = 0x40;
/** Bits 4 and 5 of the command byte are never set by an ENet sender. */
export const COMMAND_UNUSED_BITS = 0x30;
export const HEADER_FLAG_COMPRESSED = 0x4000;
export const HEADER_FLAG_SENT_TIME = 0x8000;
export const HEADER_SESSION_MASK = 0x3000;
export const HEADER_SESSION_SHIFT = 12;
export const HEADER_PEER_ID_MASK = 0x0fff;

/** `ENetProtocolHeader` without / with `sentTime`; the checksum, when on, follows it (protocol.c). */
export const HEADER_SIZE_SHORT = 2;
export const HEADER_SIZE_WITH_SENT_TIME = 4;
export const CHECKSUM_SIZE = 4;
/** `ENetProtocolCommandHeader`: u8 command, u8 channelID, u16 reliableSequenceNumber. */
export const COMMAND_HEADER_SIZE = 4;

/**
 * Fixed size of each command, command header included: `sizeof` of the
 * packed structs in protocol.h, the same table as protocol.c `commandSizes`.
 * Index 0 (NONE) is 0: never valid on the wire.
 */
export const COMMAND_SIZES: readonly number[] = [
  0, // NONE
  8, // ACKNOWLEDGE: header + u16 receivedReliableSequenceNumber + u16 receivedSentTime
  48, // CONNECT: header + u16 + u8 + u8 + 10 x u32
  44, // VERIFY_CONNECT: CONNECT without the trailing u32 data
  8, // DISCONNECT: header + u32 data
  4, // PING: header only
  6, // SEND_RELIABLE: header + u16 dataLength, then data
  8, // SEND_UNRELIABLE: header + u16 unreliableSequenceNumber + u16 dataLength, then data
  24, // SEND_FRAGMENT: header + u16 startSequenceNumber + u16 dataLength + 4 x u32, then data
  8, // SEND_UNSEQUENCED: header + u16 unsequencedGroup + u16 dataLength, then data
  12, // BANDWIDTH_LIMIT: header + 2 x u32
  16, // THROTTLE_CONFIGURE: header + 3 x u32
  24, // SEND_UNRELIABLE_FRAGMENT: same layout as SEND_FRAGMENT
];

/** Offset of the u16 `dataLength` inside each payload-carrying command; -1 when none. */
export const DATA_LENGTH_OFFSETS: readonly number[] = [
  -1, // NONE
  -1, // ACKNOWLEDGE
  -1, // CONNECT
  -1, // VERIFY_CONNECT
  -1, // DISCONNECT
  -1, // PING
  4, // SEND_RELIABLE
  6, // SEND_UNRELIABLE
  6, // SEND_FRAGMENT
  6, // SEND_UNSEQUENCED
  -1, // BANDWIDTH_LIMIT
  -1, // THROTTLE_CONFIGURE
  6, // SEND_UNRELIABLE_FRAGMENT
];

/**
 * Connection-level commands travel on channel 0xFF: the reference sender sets
 * `header.channelID = 0xFF` for CONNECT (host.c), VERIFY_CONNECT (protocol.c),
 * DISCONNECT and PING (peer.c), BANDWIDTH_LIMIT and THROTTLE_CONFIGURE (host.c).
 */
export const CONTROL_CHANNEL = 0xff;
export const IS_CONTROL_COMMAND: readonly boolean[] = [
  false, // NONE
  false, // ACKNOWLEDGE: echoes the acknowledged command's channel
  true, // CONNECT
  true, // VERIFY_CONNECT
  true, // DISCONNECT
  true, // PING
  false, // SEND_RELIABLE
  false, // SEND_UNRELIABLE
  false, // SEND_FRAGMENT
  false, // SEND_UNSEQUENCED
  true, // BANDWIDTH_LIMIT
  true, // THROTTLE_CONFIGURE
  false, // SEND_UNRELIABLE_FRAGMENT
];

// Field offsets inside CONNECT / VERIFY_CONNECT (protocol.h ENetProtocolConnect).
export const CONNECT_OUTGOING_PEER_ID = 4;
export const CONNECT_MTU = 8;
export const CONNECT_WINDOW_SIZE = 12;
export const CONNECT_CHANNEL_COUNT = 16;
export const CONNECT_CONNECT_ID = 40;
// ENetProtocolAcknowledge
export const ACK_RECEIVED_SENT_TIME = 6;
