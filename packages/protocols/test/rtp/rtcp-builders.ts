/**
 * Byte builders for RTCP packets, written from RFC 3550 §6.4-6.6, RFC 4585
 * §6.1 and RFC 3611 §2 field by field (PROTOCOLS.md §4.2), for tests that
 * need exact shapes a real peer does not send (RR echoes, XR, negatives).
 */

export function words(...values: number[]): number[] {
  const out: number[] = [];
  for (const v of values)
    out.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  return out;
}

/** Common header + body; `length` is computed unless overridden. */
export function packet(
  pt: number,
  count: number,
  body: number[],
  options: { padding?: boolean; version?: number; length?: number } = {},
): number[] {
  const version = options.version ?? 2;
  const length = options.length ?? body.length / 4;
  return [
    (version << 6) | (options.padding === true ? 0x20 : 0) | count,
    pt,
    (length >> 8) & 0xff,
    length & 0xff,
    ...body,
  ];
}

export interface Block {
  ssrc: number;
  fraction?: number;
  cumulative?: number;
  highest?: number;
  jitter?: number;
  lsr?: number;
  dlsr?: number;
}

export function reportBlock(b: Block): number[] {
  const lossWord = (((b.fraction ?? 0) & 0xff) << 24) | ((b.cumulative ?? 0) & 0xffffff);
  return words(b.ssrc, lossWord >>> 0, b.highest ?? 0, b.jitter ?? 0, b.lsr ?? 0, b.dlsr ?? 0);
}

export function sr(
  ssrc: number,
  ntpSeconds: number,
  ntpFraction: number,
  rtpTs: number,
  blocks: Block[] = [],
): number[] {
  return packet(200, blocks.length, [
    ...words(ssrc, ntpSeconds, ntpFraction, rtpTs, 10, 1000),
    ...blocks.flatMap(reportBlock),
  ]);
}

export function rr(ssrc: number, blocks: Block[] = []): number[] {
  return packet(201, blocks.length, [...words(ssrc), ...blocks.flatMap(reportBlock)]);
}

export function sdesCname(ssrc: number, cname: string): number[] {
  const item = [1, cname.length, ...[...cname].map((c) => c.charCodeAt(0)), 0];
  while ((item.length + 4) % 4 !== 0) item.push(0);
  return packet(202, 1, [...words(ssrc), ...item]);
}

export function bye(ssrcs: number[], reason?: string): number[] {
  const body = words(...ssrcs);
  if (reason !== undefined) {
    body.push(reason.length, ...[...reason].map((c) => c.charCodeAt(0)));
    while (body.length % 4 !== 0) body.push(0);
  }
  return packet(203, ssrcs.length, body);
}

export const bytes = (...parts: number[][]): Uint8Array => new Uint8Array(parts.flat());
