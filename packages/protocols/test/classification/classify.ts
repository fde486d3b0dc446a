import {
  type Classification,
  createClassifier,
  createRegistry,
  type Datagram,
  type ProbeResult,
  type Protocol,
} from '@gamemesh/core';
import { type BuiltinConfig, builtinProtocols } from '../../src/index.js';

/**
 * Runs real datagram sequences through the classifier: the full built-in
 * registry (what the proxy and gamemesh-inspect use), or one protocol alone
 * (to show what its probe says about another protocol's traffic).
 */

export interface FlowOutcome {
  readonly classification: Classification;
  /** 0-based index of the datagram that decided the flow; -1 while still pending. */
  readonly decidedAt: number;
  /** A short label: `name/variant`, `unknown(reason)` or `pending`. */
  readonly label: string;
}

export function labelOf(classification: Classification): string {
  if (classification.state === 'matched')
    return `${classification.protocol.name}/${classification.variant}`;
  if (classification.state === 'unknown') return `unknown(${classification.reason})`;
  return 'pending';
}

/** Offers `datagrams` in order to one fresh flow of a classifier over `protocols`. */
export function classify(
  datagrams: readonly Datagram[],
  protocols: readonly Protocol[],
  window = 8,
): FlowOutcome {
  const flow = createClassifier(createRegistry({ protocols }), { window }).flow();
  for (const [index, datagram] of datagrams.entries()) {
    const classification = flow.offer(datagram);
    if (classification.state !== 'pending')
      return { classification, decidedAt: index, label: labelOf(classification) };
  }
  return { classification: flow.classification, decidedAt: -1, label: 'pending' };
}

export function classifyWithBuiltins(
  datagrams: readonly Datagram[],
  config: BuiltinConfig = {},
): FlowOutcome {
  return classify(datagrams, builtinProtocols(config));
}

export function builtin(name: string, config: BuiltinConfig = {}): Protocol {
  const protocol = builtinProtocols(config).find((p) => p.name === name);
  if (protocol === undefined) throw new Error(`no built-in protocol ${name}`);
  return protocol;
}

/**
 * What one protocol's probe says about each datagram of a flow, replaying
 * the classifier's history rule (earlier datagrams while undecided), up to
 * the first `match` or `no`.
 */
export function probeTrail(protocol: Protocol, datagrams: readonly Datagram[]): ProbeResult[] {
  const trail: ProbeResult[] = [];
  const history: Datagram[] = [];
  for (const datagram of datagrams) {
    const result = protocol.probe(datagram, history);
    trail.push(result);
    if (result.verdict !== 'need-more') break;
    history.push(datagram);
  }
  return trail;
}

/** The reason code a protocol alone ends on for a flow: its `no` reason, or its last word when the window ran out. */
export function aloneVerdict(
  protocol: Protocol,
  datagrams: readonly Datagram[],
): { label: string; reason: string } {
  const outcome = classify(datagrams, [protocol]);
  const c = outcome.classification;
  if (c.state === 'matched') return { label: outcome.label, reason: c.reason };
  if (c.state === 'unknown')
    return { label: outcome.label, reason: c.verdicts[protocol.name] ?? '' };
  // Still undecided when the flow ended: the probe's word on the last datagram.
  return { label: 'pending', reason: probeTrail(protocol, datagrams).at(-1)?.reason ?? '' };
}

/** Datagrams of one direction only, keeping their order. */
export function oneWay(
  datagrams: readonly Datagram[],
  direction: Datagram['direction'],
): Datagram[] {
  return datagrams.filter((d) => d.direction === direction);
}

/** Flips directions so the first datagram is `forward`, as a proxy that picked the flow up mid-session would see it. */
export function asNewFlow(datagrams: readonly Datagram[]): Datagram[] {
  const first = datagrams[0]?.direction ?? 'forward';
  return datagrams.map((d) => ({ ...d, direction: d.direction === first ? 'forward' : 'reverse' }));
}
