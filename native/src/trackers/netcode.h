/*
 * netcode 1.02 / 1.01 keyless tracker (PROTOCOLS.md §3). Mirrors
 * packages/protocols/src/netcode/tracker.ts with no private key: the token
 * is opened in TypeScript, which sees every new flow's first datagrams.
 *
 * Variants: none; gm_tracker_config.variant is ignored (both request
 * versions are recognised on the wire).
 */
#ifndef GM_NETCODE_H
#define GM_NETCODE_H

#include <stddef.h>
#include <stdint.h>

#include "gm_tracker.h"

#define GM_NETCODE_REQUEST_BYTES 1078     /* 1 + 13 + 8 + 8 + 24 + 1024 */
#define GM_NETCODE_REQUEST_1_01_BYTES 1062 /* 8-byte token sequence instead of a 24-byte nonce */
#define GM_NETCODE_MAC_BYTES 16
#define GM_NETCODE_MAX_PAYLOAD_BYTES 1200
/* A jump larger than this is corruption or spoofing, not that many lost packets. */
#define GM_NETCODE_MAX_COUNTED_GAP 1024

enum gm_netcode_version { GM_NETCODE_NOT_REQUEST = 0, GM_NETCODE_V1_02 = 2, GM_NETCODE_V1_01 = 1 };

/* Keyless structural checks, shared by the tracker and the fuzz target. */
int gm_netcode_request_version(const uint8_t *b, size_t len);
/* 1 when `b` is a well-formed encrypted packet (types 1..6), else 0. */
int gm_netcode_encrypted_shape_ok(const uint8_t *b, size_t len);
/* The packet's sequence (prefix high nibble = byte count, little-endian); shape must be ok. */
uint64_t gm_netcode_sequence(const uint8_t *b);

#endif
