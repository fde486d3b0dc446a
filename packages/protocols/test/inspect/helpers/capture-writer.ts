import { concat } from '../../support/bytes.js';

/**
 * Test-only capture writers and a deliberately separate minimal pcap record
 * splitter. They re-encode frames that tcpdump really captured into the
 * formats and link types tcpdump on Linux cannot write (pcapng, big-endian,
 * BSD null/loop, raw IP), so the reader is checked on real packets.
 */

export interface Record {
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly data: Uint8Array;
  readonly originalLength?: number;
}

/** Splits a little-endian microsecond or nanosecond pcap (what tcpdump writes here). */
export function splitPcap(file: Uint8Array): {
  linkType: number;
  nanoseconds: boolean;
  records: Record[];
} {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const magic = view.getUint32(0, true);
  if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d)
    throw new Error(`unexpected magic ${magic.toString(16)}`);
  const nanoseconds = magic === 0xa1b23c4d;
  const records: Record[] = [];
  for (let o = 24; o + 16 <= file.length; ) {
    const captured = view.getUint32(o + 8, true);
    const fraction = view.getUint32(o + 4, true);
    records.push({
      at: view.getUint32(o, true) * 1000 + fraction / (nanoseconds ? 1e6 : 1e3),
      data: file.slice(o + 16, o + 16 + captured),
      originalLength: view.getUint32(o + 12, true),
    });
    o += 16 + captured;
  }
  return { linkType: view.getUint32(20, true) & 0xffff, nanoseconds, records };
}

export interface PcapOptions {
  readonly linkType: number;
  readonly bigEndian?: boolean;
  readonly nanoseconds?: boolean;
  readonly snaplen?: number;
}

export function writePcap(options: PcapOptions, records: readonly Record[]): Uint8Array {
  const le = options.bigEndian !== true;
  const size = 24 + records.reduce((n, r) => n + 16 + r.data.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, options.nanoseconds === true ? 0xa1b23c4d : 0xa1b2c3d4, le);
  view.setUint16(4, 2, le);
  view.setUint16(6, 4, le);
  view.setUint32(16, options.snaplen ?? 262144, le);
  view.setUint32(20, options.linkType, le);
  let o = 24;
  for (const r of records) {
    const seconds = Math.floor(r.at / 1000);
    const fraction = Math.round(
      (r.at - seconds * 1000) * (options.nanoseconds === true ? 1e6 : 1e3),
    );
    view.setUint32(o, seconds, le);
    view.setUint32(o + 4, fraction, le);
    view.setUint32(o + 8, r.data.length, le);
    view.setUint32(o + 12, r.originalLength ?? r.data.length, le);
    out.set(r.data, o + 16);
    o += 16 + r.data.length;
  }
  return out;
}

export interface PcapngInterface {
  readonly linkType: number;
  readonly snaplen?: number;
  /** Raw if_tsresol byte; absent means microseconds. */
  readonly tsresol?: number;
}

export type PcapngBlock =
  | { readonly kind: 'epb'; readonly iface: number; readonly record: Record }
  | { readonly kind: 'spb'; readonly data: Uint8Array }
  | { readonly kind: 'opaque'; readonly type: number; readonly body: Uint8Array };

export interface PcapngSection {
  readonly bigEndian?: boolean;
  readonly interfaces: readonly PcapngInterface[];
  readonly blocks: readonly PcapngBlock[];
}

export function writePcapng(sections: readonly PcapngSection[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const section of sections) {
    const le = section.bigEndian !== true;
    const block = (type: number, body: Uint8Array): Uint8Array => {
      const padded = (body.length + 3) & ~3;
      const total = 12 + padded;
      const out = new Uint8Array(total);
      const view = new DataView(out.buffer);
      view.setUint32(0, type, le);
      view.setUint32(4, total, le);
      out.set(body, 8);
      view.setUint32(total - 4, total, le);
      return out;
    };
    const shb = new Uint8Array(16);
    const shbView = new DataView(shb.buffer);
    shbView.setUint32(0, 0x1a2b3c4d, le);
    shbView.setUint16(4, 1, le);
    shbView.setUint16(6, 0, le);
    shbView.setInt32(8, -1, le);
    shbView.setInt32(12, -1, le);
    parts.push(block(0x0a0d0d0a, shb));
    const unitsPerMs: number[] = [];
    for (const iface of section.interfaces) {
      const options = iface.tsresol === undefined ? new Uint8Array(0) : new Uint8Array(12);
      if (iface.tsresol !== undefined) {
        const ov = new DataView(options.buffer);
        ov.setUint16(0, 9, le);
        ov.setUint16(2, 1, le);
        options[4] = iface.tsresol;
        // options[8..12) stays zero: opt_endofopt
      }
      const body = new Uint8Array(8 + options.length);
      const bv = new DataView(body.buffer);
      bv.setUint16(0, iface.linkType, le);
      bv.setUint32(4, iface.snaplen ?? 0, le);
      body.set(options, 8);
      parts.push(block(0x00000001, body));
      const r = iface.tsresol ?? 6;
      unitsPerMs.push((r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r) / 1000);
    }
    for (const b of section.blocks) {
      if (b.kind === 'opaque') {
        parts.push(block(b.type, b.body));
      } else if (b.kind === 'spb') {
        const body = new Uint8Array(4 + b.data.length);
        new DataView(body.buffer).setUint32(0, b.data.length, le);
        body.set(b.data, 4);
        parts.push(block(0x00000003, body));
      } else {
        const body = new Uint8Array(20 + b.record.data.length);
        const bv = new DataView(body.buffer);
        const units = BigInt(Math.round(b.record.at * unitsPerMs[b.iface]!));
        bv.setUint32(0, b.iface, le);
        bv.setUint32(4, Number(units >> 32n), le);
        bv.setUint32(8, Number(units & 0xffffffffn), le);
        bv.setUint32(12, b.record.data.length, le);
        bv.setUint32(16, b.record.originalLength ?? b.record.data.length, le);
        body.set(b.record.data, 20);
        parts.push(block(0x00000006, body));
      }
    }
  }
  return concat(parts);
}

/** The IP packet inside an Ethernet frame without VLAN tags (what tcpdump -i lo gives). */
export function ipOfEthernet(frame: Uint8Array): Uint8Array {
  return frame.slice(14);
}
