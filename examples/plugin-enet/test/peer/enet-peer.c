/*
 * A minimal ENet client and server (Debian libenet-dev, lsalzman/enet 1.3.x)
 * used as the real peer in the plugin's tests and for the capture fixture.
 *
 *   enet-peer server [--checksum]                 prints "port <n>", echoes, exits after the client leaves
 *   enet-peer client <port> <count> [--checksum]  connects to 127.0.0.1:<port>, sends <count> reliable
 *                                                 and <count> unreliable packets plus one fragmented
 *                                                 one, waits for the echoes, disconnects
 *
 * Both print "key value" lines on stdout (what ENet itself reports: the
 * connect ID, MTU, round trip) so the test can check the plugin against the
 * library, not against itself. Every wait has a deadline: a stuck peer exits
 * non-zero instead of hanging the test.
 *
 * Build: cc -O2 -o enet-peer enet-peer.c -lenet
 */
#include <enet/enet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHANNELS 2
#define DEADLINE_MS 10000
/* Larger than any MTU, so ENet splits it into SEND_FRAGMENT commands. */
#define FRAGMENTED_SIZE 3000
/*
 * Time between the last echo and the goodbye: retransmissions still in
 * flight settle, and both sides sample packetsLost before enet_peer_reset
 * zeroes it on disconnect.
 */
#define LINGER_MS 300

static void say(const char *key, unsigned long value) {
  printf("%s %lu\n", key, value);
  fflush(stdout);
}

/*
 * Reliable commands resent after a timeout: protocol.c
 * enet_protocol_check_timeouts counts each in peer->packetsLost. That counter
 * is zeroed every ENET_PEER_PACKET_LOSS_INTERVAL (10 s, longer than a test
 * session) and by enet_peer_reset when the disconnect is delivered, so keep
 * the running maximum, sampled after every service call.
 */
static enet_uint32 resent_commands = 0;

static void sample_resent(const ENetPeer *peer) {
  if (peer != NULL && peer->packetsLost > resent_commands) resent_commands = peer->packetsLost;
}

/* libenet's own tallies, for the test to compare with what the relay saw. */
static void say_totals(const ENetHost *host) {
  say("sent_datagrams", host->totalSentPackets);
  say("resent_commands", resent_commands);
}

static int send_text(ENetPeer *peer, enet_uint8 channel, enet_uint32 flags, const char *text) {
  ENetPacket *packet = enet_packet_create(text, strlen(text) + 1, flags);
  return packet == NULL ? -1 : enet_peer_send(peer, channel, packet);
}

static int run_server(int checksum) {
  ENetAddress address;
  enet_address_set_host_ip(&address, "127.0.0.1");
  address.port = 0;
  ENetHost *host = enet_host_create(&address, 4, CHANNELS, 0, 0);
  if (host == NULL) return 2;
  if (checksum) host->checksum = enet_crc32;
  ENetAddress bound;
  if (enet_socket_get_address(host->socket, &bound) != 0) return 2;
  say("port", bound.port);

  int status = 3;
  ENetPeer *client = NULL;
  enet_uint32 start = enet_time_get();
  ENetEvent event;
  while (enet_time_get() - start < DEADLINE_MS) {
    int serviced = enet_host_service(host, &event, 20);
    sample_resent(client);
    if (serviced <= 0) continue;
    if (event.type == ENET_EVENT_TYPE_CONNECT) {
      client = event.peer;
      say("server_connect_id", event.peer->connectID);
    } else if (event.type == ENET_EVENT_TYPE_RECEIVE) {
      /* Echo on the same channel with the same reliability. */
      enet_uint32 flags = event.packet->flags & ENET_PACKET_FLAG_RELIABLE;
      ENetPacket *echo = enet_packet_create(event.packet->data, event.packet->dataLength, flags);
      enet_peer_send(event.peer, event.channelID, echo);
      enet_packet_destroy(event.packet);
    } else if (event.type == ENET_EVENT_TYPE_DISCONNECT) {
      say("server_disconnected", 1);
      status = 0;
      break;
    }
  }
  enet_host_flush(host);
  say_totals(host);
  enet_host_destroy(host);
  return status;
}

static int run_client(enet_uint16 port, int count, int checksum) {
  ENetHost *host = enet_host_create(NULL, 1, CHANNELS, 0, 0);
  if (host == NULL) return 2;
  if (checksum) host->checksum = enet_crc32;
  ENetAddress address;
  enet_address_set_host_ip(&address, "127.0.0.1");
  address.port = port;
  ENetPeer *peer = enet_host_connect(host, &address, CHANNELS, 0);
  if (peer == NULL) return 2;
  /* Ping often, so a short session still carries PING commands. */
  enet_peer_ping_interval(peer, 50);

  enum { CONNECTING, EXCHANGING, LINGERING, DISCONNECTING } phase = CONNECTING;
  enet_uint32 linger_start = 0;
  int reliable_echoes = 0, fragmented_echoes = 0, status = 3;
  enet_uint32 start = enet_time_get();
  ENetEvent event;
  while (enet_time_get() - start < DEADLINE_MS) {
    int serviced = enet_host_service(host, &event, 20);
    sample_resent(peer);
    if (phase == LINGERING && enet_time_get() - linger_start >= LINGER_MS) {
      enet_peer_disconnect(peer, 0);
      phase = DISCONNECTING;
    }
    if (serviced <= 0) continue;
    if (event.type == ENET_EVENT_TYPE_CONNECT && phase == CONNECTING) {
      say("connect_id", peer->connectID);
      say("mtu", peer->mtu);
      say("channel_count", peer->channelCount);
      char text[32];
      for (int i = 0; i < count; i++) {
        snprintf(text, sizeof text, "reliable %d", i);
        send_text(peer, 0, ENET_PACKET_FLAG_RELIABLE, text);
        snprintf(text, sizeof text, "unreliable %d", i);
        send_text(peer, 1, 0, text);
      }
      static enet_uint8 big[FRAGMENTED_SIZE];
      memset(big, 'x', sizeof big);
      enet_peer_send(peer, 0, enet_packet_create(big, sizeof big, ENET_PACKET_FLAG_RELIABLE));
      phase = EXCHANGING;
    } else if (event.type == ENET_EVENT_TYPE_RECEIVE) {
      if (event.packet->dataLength == FRAGMENTED_SIZE) fragmented_echoes++;
      else if (event.packet->flags & ENET_PACKET_FLAG_RELIABLE) reliable_echoes++;
      enet_packet_destroy(event.packet);
      if (phase == EXCHANGING && reliable_echoes == count && fragmented_echoes == 1) {
        say("reliable_echoes", reliable_echoes);
        say("round_trip_ms", peer->roundTripTime);
        phase = LINGERING;
        linger_start = enet_time_get();
      }
    } else if (event.type == ENET_EVENT_TYPE_DISCONNECT) {
      if (phase == DISCONNECTING) {
        say("client_disconnected", 1);
        say_totals(host);
        status = 0;
      }
      break;
    }
  }
  enet_host_destroy(host);
  return status;
}

int main(int argc, char **argv) {
  if (enet_initialize() != 0) return 2;
  atexit(enet_deinitialize);
  int checksum = argc > 1 && strcmp(argv[argc - 1], "--checksum") == 0;
  if (argc >= 2 && strcmp(argv[1], "server") == 0) return run_server(checksum);
  if (argc >= 4 && strcmp(argv[1], "client") == 0) {
    return run_client((enet_uint16)atoi(argv[2]), atoi(argv[3]), checksum);
  }
  fprintf(stderr, "usage: enet-peer server [--checksum] | client <port> <count> [--checksum]\n");
  return 1;
}
