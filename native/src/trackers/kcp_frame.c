/*
 * KCP segment walk and framing detection, the C twin of segment.ts and
 * variants.ts in packages/protocols/src/kcp: same rules, same order, same
 * failure codes. Every read is bounds-checked against `len` first.
 */
#include <string.h>

#include "kcp.h"

#define FEC_HEADER_SIZE 8u
#define FEC_OOB_SEQID 0xffffffffu
#define CRYPT_HEADER_SIZE 20u
#define CRYPT_NONCE_SIZE 16u
#define KCP2K_METADATA_SIZE 5u
/* A parity shard is as long as the longest data shard of its group: FEC header, size field, one segment. */
#define FEC_MIN_PARITY_LENGTH (FEC_HEADER_SIZE + GM_KCP_OVERHEAD)

static uint32_t u32le(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t u16le(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* CRC-32/IEEE, reflected polynomial 0xEDB88320 (kcp-go sess.go: crc32.ChecksumIEEE). */
static const uint32_t CRC32_TABLE[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu,
    0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
    0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
    0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
    0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
    0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
    0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
    0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
    0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
    0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u, 0x01db7106u,
    0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
    0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du,
    0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
    0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
    0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u,
    0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
    0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau,
    0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
    0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
    0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u,
    0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
    0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
    0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
    0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
    0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u,
    0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
    0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u,
    0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
    0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
    0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
    0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
    0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u,
    0x616bffd3u, 0x166ccf45u, 0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
    0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
    0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
    0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u,
    0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

uint32_t gm_kcp_crc32(const uint8_t *data, size_t len) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < len; i++) crc = CRC32_TABLE[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

/*
 * PROTOCOLS.md §2.1 "Robust datagram validator": stricter than ikcp_input on
 * purpose (exact consumption, empty control segments, one conv).
 */
int gm_kcp_walk(const uint8_t *data, size_t start, size_t end, uint32_t max_push_len, uint32_t *conv_out,
                uint32_t *segments_out) {
  if (start > end || end - start < GM_KCP_OVERHEAD) return GM_KCP_TOO_SHORT;
  const uint32_t conv = u32le(data + start);
  size_t offset = start;
  uint32_t segments = 0;
  while (end - offset >= GM_KCP_OVERHEAD) {
    const uint8_t cmd = data[offset + 4];
    if (cmd < GM_KCP_CMD_PUSH || cmd > GM_KCP_CMD_WINS) return GM_KCP_BAD_CMD;
    if (segments > 0 && u32le(data + offset) != conv) return GM_KCP_CONV_MISMATCH;
    const uint32_t seg_len = u32le(data + offset + 20);
    const size_t remaining = end - offset - GM_KCP_OVERHEAD;
    if (seg_len > remaining) return GM_KCP_LENGTH_OVERFLOW;
    if (cmd == GM_KCP_CMD_PUSH) {
      if (seg_len > max_push_len) return GM_KCP_PUSH_TOO_LONG;
    } else if (seg_len != 0) {
      return GM_KCP_CONTROL_WITH_PAYLOAD;
    }
    segments++;
    offset += GM_KCP_OVERHEAD + seg_len;
  }
  if (offset != end) return GM_KCP_TRAILING_BYTES;
  if (conv_out != NULL) *conv_out = conv;
  if (segments_out != NULL) *segments_out = segments;
  return GM_KCP_OK;
}

static void reset(gm_kcp_frame *out, int variant) {
  memset(out, 0, sizeof *out);
  out->variant = (uint8_t)variant;
}

static int read_raw(const uint8_t *data, size_t len, size_t start, uint32_t max, gm_kcp_frame *out) {
  int code = gm_kcp_walk(data, start, len, max, &out->conv, &out->segments);
  if (code == GM_KCP_OK) {
    out->has_kcp = 1;
    out->kcp_start = start;
    out->kcp_end = len;
  }
  return code;
}

static int is_fec_type(const uint8_t *data, size_t len, size_t start) {
  if (start > len || len - start < FEC_HEADER_SIZE) return 0;
  uint16_t type = u16le(data + start + 4);
  return type >= GM_KCP_FEC_TYPE_DATA && type <= GM_KCP_FEC_TYPE_OOB;
}

/* kcp-go fec.go: `seqid u32 | type u16 | size u16`; the caller checked is_fec_type. */
static int read_fec(const uint8_t *data, size_t len, size_t start, uint32_t max, gm_kcp_frame *out) {
  uint16_t type = u16le(data + start + 4);
  out->fec_type = type;
  if (type == GM_KCP_FEC_TYPE_DATA) {
    /* fec.go encode: size = 2 + KCP length. */
    if ((size_t)u16le(data + start + 6) != len - start - 6) return GM_KCP_FEC_SIZE_MISMATCH;
    return read_raw(data, len, start + FEC_HEADER_SIZE, max, out);
  }
  if (len - start < FEC_MIN_PARITY_LENGTH) return GM_KCP_FEC_SHORT_SHARD;
  if (type == GM_KCP_FEC_TYPE_OOB && u32le(data + start) != FEC_OOB_SEQID) return GM_KCP_FEC_OOB_SEQID;
  return GM_KCP_OK;
}

static int read_raw_or_fec(const uint8_t *data, size_t len, size_t start, const gm_kcp_options *options,
                           gm_kcp_frame *out) {
  if (options->fec && is_fec_type(data, len, start)) return read_fec(data, len, start, options->max_push_len, out);
  return read_raw(data, len, start, options->max_push_len, out);
}

/* kcp-go NoneBlockCrypt: nonce[16] | crc32 u32 LE | raw or FEC (sess.go cryptHeaderSize). */
static int read_crypt_none(const uint8_t *data, size_t len, const gm_kcp_options *options, gm_kcp_frame *out) {
  if (len < CRYPT_HEADER_SIZE + GM_KCP_OVERHEAD) return GM_KCP_TOO_SHORT;
  /* Structure first: it rejects almost everything without touching every byte. */
  int inner = read_raw_or_fec(data, len, CRYPT_HEADER_SIZE, options, out);
  if (inner != GM_KCP_OK) return inner;
  if (gm_kcp_crc32(data + CRYPT_HEADER_SIZE, len - CRYPT_HEADER_SIZE) != u32le(data + CRYPT_NONCE_SIZE))
    return GM_KCP_CRC_MISMATCH;
  return GM_KCP_OK;
}

/* Mirror kcp2k KcpPeer.cs: `channel u8 | cookie u32 LE | ...`. */
static int read_kcp2k(const uint8_t *data, size_t len, uint32_t max, gm_kcp_frame *out) {
  if (len < KCP2K_METADATA_SIZE + 1) return GM_KCP_KCP2K_TOO_SHORT;
  const uint8_t channel = data[0];
  out->kcp2k_channel = channel;
  out->cookie = u32le(data + 1);
  if (channel == GM_KCP2K_CHANNEL_RELIABLE) {
    int code = read_raw(data, len, KCP2K_METADATA_SIZE, max, out);
    if (code != GM_KCP_OK) return code;
    /* KcpPeer.cs: `new Kcp(0, RawSendReliable)`. */
    return out->conv == 0 ? GM_KCP_OK : GM_KCP_KCP2K_CONV_NOT_ZERO;
  }
  if (channel != GM_KCP2K_CHANNEL_UNRELIABLE) return GM_KCP_KCP2K_BAD_CHANNEL;
  const uint8_t header = data[KCP2K_METADATA_SIZE];
  out->kcp2k_header = header;
  /* SendData refuses empty messages; SendDisconnect sends the header alone. */
  if (header == GM_KCP2K_UNRELIABLE_DATA && len > KCP2K_METADATA_SIZE + 1) return GM_KCP_OK;
  if (header == GM_KCP2K_UNRELIABLE_DISCONNECT && len == KCP2K_METADATA_SIZE + 1) return GM_KCP_OK;
  return GM_KCP_KCP2K_BAD_UNRELIABLE;
}

int gm_kcp_read_frame_as(int variant, const uint8_t *data, size_t len, const gm_kcp_options *options,
                         gm_kcp_frame *out) {
  reset(out, variant);
  switch (variant) {
    case GM_KCP_VARIANT_RAW:
      return read_raw(data, len, 0, options->max_push_len, out);
    case GM_KCP_VARIANT_FEC:
      return is_fec_type(data, len, 0) ? read_fec(data, len, 0, options->max_push_len, out) : GM_KCP_FEC_BAD_TYPE;
    case GM_KCP_VARIANT_CRYPT_NONE:
      return read_crypt_none(data, len, options, out);
    case GM_KCP_VARIANT_KCP2K:
      return read_kcp2k(data, len, options->max_push_len, out);
    default:
      return GM_KCP_TOO_SHORT;
  }
}

/* The order and failure choice of detectFrame in variants.ts. */
int gm_kcp_detect_frame(const uint8_t *data, size_t len, const gm_kcp_options *options, gm_kcp_frame *out) {
  const int raw = gm_kcp_read_frame_as(GM_KCP_VARIANT_RAW, data, len, options, out);
  if (raw == GM_KCP_OK) return raw;
  int failure = raw;
  if (options->fec && is_fec_type(data, len, 0)) {
    int fec = gm_kcp_read_frame_as(GM_KCP_VARIANT_FEC, data, len, options, out);
    if (fec == GM_KCP_OK) return fec;
    failure = fec;
  }
  if (options->crypt_none && len >= CRYPT_HEADER_SIZE + GM_KCP_OVERHEAD) {
    int crypt = gm_kcp_read_frame_as(GM_KCP_VARIANT_CRYPT_NONE, data, len, options, out);
    if (crypt == GM_KCP_OK) return crypt;
    if (crypt == GM_KCP_CRC_MISMATCH) failure = crypt;
  }
  const uint8_t first = len > 0 ? data[0] : 0;
  if (options->kcp2k && (first == GM_KCP2K_CHANNEL_RELIABLE || first == GM_KCP2K_CHANNEL_UNRELIABLE)) {
    int kcp2k = gm_kcp_read_frame_as(GM_KCP_VARIANT_KCP2K, data, len, options, out);
    if (kcp2k == GM_KCP_OK) return kcp2k;
    if (failure == raw) failure = kcp2k;
  }
  return failure;
}
