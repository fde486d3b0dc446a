/**
 * A small seeded PRNG (xorshift32 variant "mulberry32") so a fuzz failure is
 * reproducible from its seed alone.
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  bytes(length: number): Uint8Array;
  pick<T>(items: readonly T[]): T;
}

export function createRandom(seed: number): Random {
  let state = seed >>> 0 || 0x9e3779b9;
  const nextU32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const random: Random = {
    next: () => nextU32() / 0x1_0000_0000,
    int: (n) => Math.floor((nextU32() / 0x1_0000_0000) * n),
    bytes(length) {
      const out = new Uint8Array(length);
      for (let i = 0; i < length; i += 4) {
        const word = nextU32();
        out[i] = word & 0xff;
        if (i + 1 < length) out[i + 1] = (word >>> 8) & 0xff;
        if (i + 2 < length) out[i + 2] = (word >>> 16) & 0xff;
        if (i + 3 < length) out[i + 3] = word >>> 24;
      }
      return out;
    },
    pick: (items) => items[Math.floor((nextU32() / 0x1_0000_0000) * items.length)]!,
  };
  return random;
}

// Values that sit on boundaries parsers commonly get wrong.
const INTERESTING_BYTES = [0x00, 0x01, 0x02, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x10, 0x40, 0xc0];

/**
 * One structure-unaware mutation of `input`, in the spirit of AFL's havoc
 * stage: flips, interesting values, truncation, extension, splices.
 */
export function mutate(
  random: Random,
  input: Uint8Array,
  donors: readonly Uint8Array[] = [],
): Uint8Array {
  let out: Uint8Array = input.slice();
  const rounds = 1 + random.int(4);
  for (let round = 0; round < rounds; round++) {
    const kind = random.int(9);
    if (out.length === 0 && kind < 5) {
      out = random.bytes(1 + random.int(32));
      continue;
    }
    const at = random.int(Math.max(out.length, 1));
    switch (kind) {
      case 0:
        out[at] = out[at]! ^ (1 << random.int(8));
        break;
      case 1:
        out[at] = random.pick(INTERESTING_BYTES);
        break;
      case 2:
        out[at] = random.int(256);
        break;
      case 3: {
        // Overwrite a 16/32-bit field with an extreme value, either endianness.
        const width = random.pick([2, 4]);
        const value = random.pick([0, 1, 0xff, 0xffff, 0x7fff_ffff, 0xffff_ffff]);
        for (let i = 0; i < width && at + i < out.length; i++)
          out[at + i] = (value >>> (8 * i)) & 0xff;
        break;
      }
      case 4:
        out = out.subarray(0, random.int(out.length + 1)).slice();
        break;
      case 5: {
        const extra = random.bytes(random.int(64) + 1);
        const grown = new Uint8Array(out.length + extra.length);
        grown.set(out);
        grown.set(extra, out.length);
        out = grown;
        break;
      }
      case 6: {
        if (donors.length === 0) break;
        const donor = random.pick(donors);
        const start = random.int(donor.length + 1);
        const piece = donor.subarray(start, start + random.int(64));
        const spliced = new Uint8Array(at + piece.length);
        spliced.set(out.subarray(0, at));
        spliced.set(piece, at);
        out = spliced;
        break;
      }
      case 7: {
        // Duplicate a run of bytes in place (repeats of segments / frames).
        const len = random.int(Math.min(32, out.length - at) + 1);
        const run = out.slice(at, at + len);
        const grown = new Uint8Array(out.length + run.length);
        grown.set(out.subarray(0, at + len));
        grown.set(run, at + len);
        grown.set(out.subarray(at + len), at + 2 * len);
        out = grown;
        break;
      }
      default:
        out = out.subarray(0, Math.max(0, out.length - 1 - random.int(8))).slice();
    }
  }
  return out;
}
