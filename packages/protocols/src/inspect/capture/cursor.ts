import { open } from 'node:fs/promises';

/**
 * Buffered, forward-only access to a capture file through one reusable
 * buffer, so memory stays bounded by the largest record, not the file size.
 * Reads are positional: skipping a large block moves the file position
 * without reading it.
 */

/** Where bytes come from: a file, or memory in tests. */
export interface ByteSource {
  /** Reads up to `length` bytes at file `position` into `into[offset..]`; returns the count (0 at EOF). */
  read(into: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  close(): Promise<void>;
}

export async function openFileSource(path: string): Promise<ByteSource> {
  const handle = await open(path, 'r');
  return {
    async read(into, offset, length, position) {
      const { bytesRead } = await handle.read(into, offset, length, position);
      return bytesRead;
    },
    close: () => handle.close(),
  };
}

export function memorySource(bytes: Uint8Array): ByteSource {
  return {
    async read(into, offset, length, position) {
      const n = Math.max(0, Math.min(length, bytes.length - position));
      into.set(bytes.subarray(position, position + n), offset);
      return n;
    },
    close: async () => {},
  };
}

export const DEFAULT_CHUNK_BYTES = 1 << 20;

export class CaptureCursor {
  private buffer: Uint8Array;
  /** Valid bytes are buffer[start..end); buffer[start] is at file offset `offset`. */
  private start = 0;
  private end = 0;
  private fileOffset = 0;
  private eof = false;

  constructor(
    private readonly source: ByteSource,
    chunkBytes = DEFAULT_CHUNK_BYTES,
  ) {
    this.buffer = new Uint8Array(chunkBytes);
  }

  /** Absolute file offset of the next unread byte. */
  get offset(): number {
    return this.fileOffset;
  }

  get available(): number {
    return this.end - this.start;
  }

  /**
   * Makes at least `n` bytes readable if the file has them; returns how many
   * are readable (fewer than `n` only at end of file). Grows the buffer when
   * one record is larger than it.
   */
  async ensure(n: number): Promise<number> {
    if (this.end - this.start >= n || this.eof) return this.end - this.start;
    if (n > this.buffer.length) {
      const grown = new Uint8Array(Math.max(n, this.buffer.length * 2));
      grown.set(this.buffer.subarray(this.start, this.end));
      this.buffer = grown;
    } else if (this.start + n > this.buffer.length) {
      this.buffer.copyWithin(0, this.start, this.end);
    } else {
      return this.fill(n);
    }
    this.end -= this.start;
    this.start = 0;
    return this.fill(n);
  }

  /** The readable bytes, valid until the next `ensure`. */
  view(length = this.end - this.start): Uint8Array {
    return this.buffer.subarray(this.start, this.start + Math.min(length, this.end - this.start));
  }

  /** Consumes `n` bytes; beyond the buffered ones the file position just moves. */
  skip(n: number): void {
    const buffered = this.end - this.start;
    if (n <= buffered) {
      this.start += n;
    } else {
      this.start = 0;
      this.end = 0;
      this.filePosition += n - buffered;
      this.eof = false;
    }
    this.fileOffset += n;
  }

  /** True when nothing is left: buffered bytes are consumed and the file is at EOF. */
  async atEnd(): Promise<boolean> {
    return (await this.ensure(1)) === 0;
  }

  /** File position of buffer[end]. */
  private filePosition = 0;

  private async fill(n: number): Promise<number> {
    while (this.end - this.start < n && !this.eof) {
      const room = this.buffer.length - this.end;
      const read = await this.source.read(this.buffer, this.end, room, this.filePosition);
      if (read === 0) {
        this.eof = true;
        break;
      }
      this.end += read;
      this.filePosition += read;
    }
    return this.end - this.start;
  }
}
