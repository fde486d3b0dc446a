/*
 * KCP (skywind3000/kcp) and the framings around it: raw, kcp-go FEC, kcp-go
 * crypt=none and Mirror's kcp2k. Mirrors packages/protocols/src/kcp
 * (segment.ts, variants.ts, tracker.ts); PROTOCOLS.md §2.1-§2.3.
 */
#ifndef GM_KCP_H
#define GM_KCP_H

#include <stddef.h>
#include <stdint.h>

#include "gm_tracker.h"

/*
 * gm_tracker_config.variant for KCP. Bits 0..3: the variant the classifier
 * matched (the TS variant string); bits 4..6: framings disabled in the
 * protocol config (FramingOptions fec / cryptNone / kcp2k = false), which
 * matter for auto-detection and for crypt-none over FEC. Zero bits mean the
 * TS defaults, so a zero config is "auto, every framing enabled".
 *
 *   0 "auto" (any string that is not a variant)   1 "raw"   2 "fec"
 *   3 "crypt-none"                                4 "kcp2k"
 */
enum gm_kcp_variant {
  GM_KCP_VARIANT_AUTO = 0,
  GM_KCP_VARIANT_RAW = 1,
  GM_KCP_VARIANT_FEC = 2,
  GM_KCP_VARIANT_CRYPT_NONE = 3,
  GM_KCP_VARIANT_KCP2K = 4
};
#define GM_KCP_VARIANT_MASK 0x0f
#define GM_KCP_NO_FEC 0x10
#define GM_KCP_NO_CRYPT_NONE 0x20
#define GM_KCP_NO_KCP2K 0x40

/* IKCP_MTU_DEF 1400 - 24 = 1376 is the reference mss; 1476 leaves room for MTU 1500 stacks. */
#define GM_KCP_DEFAULT_MAX_PUSH 1476u
#define GM_KCP_OVERHEAD 24u
#define GM_KCP_CMD_PUSH 81
#define GM_KCP_CMD_ACK 82
#define GM_KCP_CMD_WASK 83
#define GM_KCP_CMD_WINS 84

#define GM_KCP_FEC_TYPE_DATA 0xf1
#define GM_KCP_FEC_TYPE_PARITY 0xf2
#define GM_KCP_FEC_TYPE_OOB 0xf3
#define GM_KCP2K_CHANNEL_RELIABLE 1
#define GM_KCP2K_CHANNEL_UNRELIABLE 2
#define GM_KCP2K_UNRELIABLE_DATA 4
#define GM_KCP2K_UNRELIABLE_DISCONNECT 5

/* The codes of FRAME_CODES in variants.ts, same names. */
enum gm_kcp_frame_code {
  GM_KCP_OK = 0,
  GM_KCP_TOO_SHORT,
  GM_KCP_BAD_CMD,
  GM_KCP_LENGTH_OVERFLOW,
  GM_KCP_CONTROL_WITH_PAYLOAD,
  GM_KCP_PUSH_TOO_LONG,
  GM_KCP_CONV_MISMATCH,
  GM_KCP_TRAILING_BYTES,
  GM_KCP_FEC_SIZE_MISMATCH,
  GM_KCP_FEC_SHORT_SHARD,
  GM_KCP_FEC_OOB_SEQID,
  GM_KCP_CRC_MISMATCH,
  GM_KCP_KCP2K_CONV_NOT_ZERO,
  GM_KCP_KCP2K_BAD_UNRELIABLE,
  GM_KCP_KCP2K_TOO_SHORT,
  GM_KCP_KCP2K_BAD_CHANNEL,
  GM_KCP_FEC_BAD_TYPE
};

typedef struct gm_kcp_options {
  uint32_t max_push_len;
  uint8_t fec;
  uint8_t crypt_none;
  uint8_t kcp2k;
} gm_kcp_options;

/* Where the KCP of one datagram is (KcpFrame in variants.ts). */
typedef struct gm_kcp_frame {
  uint8_t variant;       /* enum gm_kcp_variant, never AUTO */
  uint8_t kcp2k_channel; /* 0 for other variants */
  uint8_t kcp2k_header;  /* unreliable header (4 data, 5 disconnect), 0 otherwise */
  uint16_t fec_type;     /* 0 without an FEC header */
  uint8_t has_kcp;       /* 0 when no readable segments (parity, OOB, kcp2k unreliable) */
  size_t kcp_start;
  size_t kcp_end;
  uint32_t cookie;
  uint32_t conv; /* of the walked segments */
  uint32_t segments;
} gm_kcp_frame;

/* The strict segment walk over data[start..end) (walkSegments in segment.ts). */
int gm_kcp_walk(const uint8_t *data, size_t start, size_t end, uint32_t max_push_len, uint32_t *conv,
                uint32_t *segments);
/* Reads the datagram as one variant (readFrameAs). */
int gm_kcp_read_frame_as(int variant, const uint8_t *data, size_t len, const gm_kcp_options *options,
                         gm_kcp_frame *out);
/* Tries raw, fec, crypt-none, kcp2k in order (detectFrame). */
int gm_kcp_detect_frame(const uint8_t *data, size_t len, const gm_kcp_options *options, gm_kcp_frame *out);
/* CRC-32/IEEE of data[0..len), as kcp-go's crypt header carries it. */
uint32_t gm_kcp_crc32(const uint8_t *data, size_t len);

#endif
