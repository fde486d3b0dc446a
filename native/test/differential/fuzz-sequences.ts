import type { Datagram } from '@gamemesh/core';
import { createRandom, mutate } from '@gamemesh/core/testing';

/**
 * Seeded mutated datagram sequences from real ones: a random window of a
 * real sequence (directions and arrival times kept, sometimes flipped or
 * jittered), with each datagram mutated with probability 1/3, so trackers
 * are driven deep into their state machines by mostly valid traffic.
 */
export function* fuzzedSequences(
  real: readonly (readonly Datagram[])[],
  count: number,
  seed: number,
): Generator<Datagram[]> {
  const random = createRandom(seed);
  const donors = real.flat().map((d) => d.data);
  for (let i = 0; i < count; i++) {
    const source = random.pick(real);
    const length = 1 + random.int(Math.min(24, source.length));
    const start = random.int(source.length - length + 1);
    const out: Datagram[] = [];
    for (let j = start; j < start + length; j++) {
      const original = source[j]!;
      const data = random.int(3) === 0 ? mutate(random, original.data, donors) : original.data;
      const direction =
        random.int(16) === 0
          ? original.direction === 'forward'
            ? 'reverse'
            : 'forward'
          : original.direction;
      const at = random.int(8) === 0 ? original.at + random.int(5000) - 2500 : original.at;
      out.push({ data, direction, at });
    }
    yield out;
  }
}
