/*
 * Prints libenet's own wire sizes and constants as "name value" lines, so the
 * plugin's tables in src/protocol.ts are checked against the installed
 * protocol.h, not against a copy of it.
 */
#include <enet/enet.h>
#include <stddef.h>
#include <stdio.h>

#define SHOW(name, value) printf("%s %lu\n", name, (unsigned long)(value))

int main(void) {
  SHOW("ACKNOWLEDGE", sizeof(ENetProtocolAcknowledge));
  SHOW("CONNECT", sizeof(ENetProtocolConnect));
  SHOW("VERIFY_CONNECT", sizeof(ENetProtocolVerifyConnect));
  SHOW("DISCONNECT", sizeof(ENetProtocolDisconnect));
  SHOW("PING", sizeof(ENetProtocolPing));
  SHOW("SEND_RELIABLE", sizeof(ENetProtocolSendReliable));
  SHOW("SEND_UNRELIABLE", sizeof(ENetProtocolSendUnreliable));
  SHOW("SEND_FRAGMENT", sizeof(ENetProtocolSendFragment));
  SHOW("SEND_UNSEQUENCED", sizeof(ENetProtocolSendUnsequenced));
  SHOW("BANDWIDTH_LIMIT", sizeof(ENetProtocolBandwidthLimit));
  SHOW("THROTTLE_CONFIGURE", sizeof(ENetProtocolThrottleConfigure));
  /* Unreliable fragments reuse the SEND_FRAGMENT layout (protocol.c commandSizes). */
  SHOW("SEND_UNRELIABLE_FRAGMENT", sizeof(ENetProtocolSendFragment));
  SHOW("command_header", sizeof(ENetProtocolCommandHeader));
  SHOW("header", sizeof(ENetProtocolHeader));
  SHOW("command_count", ENET_PROTOCOL_COMMAND_COUNT);
  SHOW("command_mask", ENET_PROTOCOL_COMMAND_MASK);
  SHOW("flag_acknowledge", ENET_PROTOCOL_COMMAND_FLAG_ACKNOWLEDGE);
  SHOW("flag_unsequenced", ENET_PROTOCOL_COMMAND_FLAG_UNSEQUENCED);
  SHOW("header_flag_compressed", ENET_PROTOCOL_HEADER_FLAG_COMPRESSED);
  SHOW("header_flag_sent_time", ENET_PROTOCOL_HEADER_FLAG_SENT_TIME);
  SHOW("header_session_mask", ENET_PROTOCOL_HEADER_SESSION_MASK);
  SHOW("minimum_mtu", ENET_PROTOCOL_MINIMUM_MTU);
  SHOW("maximum_mtu", ENET_PROTOCOL_MAXIMUM_MTU);
  SHOW("maximum_packet_commands", ENET_PROTOCOL_MAXIMUM_PACKET_COMMANDS);
  SHOW("minimum_window_size", ENET_PROTOCOL_MINIMUM_WINDOW_SIZE);
  SHOW("maximum_window_size", ENET_PROTOCOL_MAXIMUM_WINDOW_SIZE);
  SHOW("maximum_channel_count", ENET_PROTOCOL_MAXIMUM_CHANNEL_COUNT);
  SHOW("maximum_peer_id", ENET_PROTOCOL_MAXIMUM_PEER_ID);
  SHOW("connect_id_offset", offsetof(ENetProtocolConnect, connectID));
  SHOW("connect_mtu_offset", offsetof(ENetProtocolConnect, mtu));
  SHOW("connect_channel_count_offset", offsetof(ENetProtocolConnect, channelCount));
  SHOW("verify_connect_id_offset", offsetof(ENetProtocolVerifyConnect, connectID));
  SHOW("ack_received_sent_time_offset", offsetof(ENetProtocolAcknowledge, receivedSentTime));
  return 0;
}
