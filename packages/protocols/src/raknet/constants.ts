/**
 * RakNet wire constants (PROTOCOLS.md §1). Message ids are the RakNet 4.x
 * `DefaultMessageIDTypes` values (`Source/MessageIdentifiers.h`), which
 * go-raknet (Minecraft Bedrock) uses unchanged.
 */

/** `OFFLINE_MESSAGE_DATA_ID` (`Source/RakPeer.cpp:135`). */
export const OFFLINE_MAGIC = Uint8Array.of(
  0x00,
  0xff,
  0xff,
  0x00,
  0xfe,
  0xfe,
  0xfe,
  0xfe,
  0xfd,
  0xfd,
  0xfd,
  0xfd,
  0x12,
  0x34,
  0x56,
  0x78,
);

export const MESSAGE_ID = {
  CONNECTED_PING: 0x00,
  UNCONNECTED_PING: 0x01,
  UNCONNECTED_PING_OPEN_CONNECTIONS: 0x02,
  CONNECTED_PONG: 0x03,
  OPEN_CONNECTION_REQUEST_1: 0x05,
  OPEN_CONNECTION_REPLY_1: 0x06,
  OPEN_CONNECTION_REQUEST_2: 0x07,
  OPEN_CONNECTION_REPLY_2: 0x08,
  CONNECTION_REQUEST: 0x09,
  OUT_OF_BAND_INTERNAL: 0x0d,
  CONNECTION_REQUEST_ACCEPTED: 0x10,
  CONNECTION_ATTEMPT_FAILED: 0x11,
  ALREADY_CONNECTED: 0x12,
  NEW_INCOMING_CONNECTION: 0x13,
  NO_FREE_INCOMING_CONNECTIONS: 0x14,
  DISCONNECTION_NOTIFICATION: 0x15,
  CONNECTION_BANNED: 0x17,
  INCOMPATIBLE_PROTOCOL_VERSION: 0x19,
  IP_RECENTLY_CONNECTED: 0x1a,
  UNCONNECTED_PONG: 0x1c,
} as const;

/** Connected-datagram flag bits (`ReliabilityLayer.cpp` `DatagramHeaderFormat`). */
export const DATAGRAM_VALID = 0x80;
export const DATAGRAM_ACK = 0xc0;
export const DATAGRAM_NAK = 0xa0;
/**
 * isValid, isACK, isNAK and the two alignment bits: a data datagram has only
 * isValid among them. Original RakNet leaves the alignment bits zero (§5.1).
 */
export const DATA_FLAGS_MASK = 0xe3;

/** Bytes before the first frame of a data datagram: flags + u24 LE sequence number. */
export const DATA_HEADER_LENGTH = 4;

export const SEQUENCE_MODULO = 0x100_0000;
export const SEQUENCE_MASK = 0xff_ffff;

/** `PacketReliability` values as written on the wire (5..7 are mapped to 0/2/3 before writing). */
export const RELIABILITY = {
  UNRELIABLE: 0,
  UNRELIABLE_SEQUENCED: 1,
  RELIABLE: 2,
  RELIABLE_ORDERED: 3,
  RELIABLE_SEQUENCED: 4,
} as const;

/** The reader rejects ordering channels >= 32 (`NUMBER_OF_ORDERED_STREAMS`). */
export const ORDERING_CHANNELS = 32;

/** Added to a REQUEST_1 payload length to get the probed MTU (IP + UDP headers, `RakPeer.cpp:5183`). */
export const UDP_IP_OVERHEAD = 28;
