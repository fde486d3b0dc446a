import { randomFillSync } from 'node:crypto';

/**
 * CSPRNG bytes drawn a block at a time. Every player of every match gets a
 * random token id, and one `randomBytes(8)` per token was a native call and a
 * fresh Buffer each; one `randomFillSync` per block costs the same bytes from
 * the same generator (node's `randomUUID` caches the same way).
 */
export class RandomPool {
  private readonly block: Buffer;
  private offset: number;

  constructor(blockBytes = 4096) {
    this.block = Buffer.allocUnsafe(blockBytes);
    // Empty until the first draw: the first take() fills it.
    this.offset = blockBytes;
  }

  /** `count` fresh random bytes (a copy: a later refill does not change them). */
  take(count: number): Uint8Array {
    if (count > this.block.length) throw new RangeError(`at most ${this.block.length} bytes`);
    if (this.offset + count > this.block.length) {
      randomFillSync(this.block);
      this.offset = 0;
    }
    const bytes = Uint8Array.prototype.slice.call(this.block, this.offset, this.offset + count);
    this.offset += count;
    return bytes;
  }

  /** A random unsigned 32-bit integer. */
  uint32(): number {
    const bytes = this.take(4);
    return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  }

  /** A random unsigned 64-bit integer. */
  uint64(): bigint {
    const bytes = this.take(8);
    return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  }
}
