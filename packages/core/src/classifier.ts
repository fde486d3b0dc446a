import type { Datagram } from './datagram.js';
import { coreError } from './errors.js';
import type { Protocol } from './protocol.js';
import type { Registry } from './registry.js';

/**
 * The ordered classifier. Each new flow is offered datagrams until one
 * protocol's probe says `match` (the flow is then pinned to it and later
 * datagrams skip probing), every protocol has said `no`, or the need-more
 * window of either direction is used up: both of the latter give `unknown`.
 */

export const CLASSIFICATION_REASONS = {
  no_protocol_matched: 'every protocol said no',
  window_exhausted: 'the need-more window of one direction was used up without a match',
  empty_registry: 'the registry holds no protocols',
} as const;

export type UnknownReason = keyof typeof CLASSIFICATION_REASONS;

export type Classification =
  | { readonly state: 'pending' }
  | {
      readonly state: 'matched';
      readonly protocol: Protocol;
      readonly variant: string;
      readonly reason: string;
    }
  | {
      readonly state: 'unknown';
      readonly reason: UnknownReason;
      /** Each protocol's last word on the flow: protocol name -> reason code. */
      readonly verdicts: Readonly<Record<string, string>>;
    };

/** A plugin threw where it promised not to. It is isolated and reported. */
export interface PluginFault {
  readonly protocol: string;
  readonly stage: 'probe' | 'routingKey' | 'tracker';
  readonly error: unknown;
}

export type FaultListener = (fault: PluginFault) => void;

export interface ClassifierOptions {
  /** Datagrams per direction a flow may stay `pending` before it is `unknown`. Default 8. */
  readonly window?: number;
  readonly onFault?: FaultListener;
}

export interface FlowClassifier {
  offer(datagram: Datagram): Classification;
  readonly classification: Classification;
  /** Datagrams offered while pending, before the deciding one (both directions, oldest first). */
  readonly history: readonly Datagram[];
}

export interface Classifier {
  readonly registry: Registry;
  readonly window: number;
  flow(): FlowClassifier;
}

export const PLUGIN_ERROR_REASON = 'plugin_error';

const PENDING: Classification = Object.freeze({ state: 'pending' });

export function createClassifier(registry: Registry, options: ClassifierOptions = {}): Classifier {
  const window = options.window ?? 8;
  if (!Number.isInteger(window) || window < 1 || window > 64) {
    throw coreError('GM_CORE_INVALID_OPTION', `window must be an integer in 1..64, got ${window}`);
  }
  const onFault = options.onFault ?? (() => {});
  return Object.freeze({
    registry,
    window,
    flow: () => new OrderedFlowClassifier(registry.protocols, window, onFault),
  });
}

class OrderedFlowClassifier implements FlowClassifier {
  classification: Classification = PENDING;
  history: Datagram[] = [];
  private readonly candidates: Protocol[];
  private readonly verdicts: Record<string, string> = {};
  private forwardSeen = 0;
  private reverseSeen = 0;

  constructor(
    protocols: readonly Protocol[],
    private readonly window: number,
    private readonly onFault: FaultListener,
  ) {
    this.candidates = [...protocols];
    if (this.candidates.length === 0) this.decideUnknown('empty_registry');
  }

  offer(datagram: Datagram): Classification {
    if (this.classification.state !== 'pending') return this.classification;
    for (let i = 0; i < this.candidates.length; ) {
      const protocol = this.candidates[i]!;
      let verdict: string;
      let reason: string;
      let variant = '';
      try {
        const result = protocol.probe(datagram, this.history);
        verdict = result.verdict;
        reason = result.reason;
        if (result.verdict === 'match') variant = result.variant;
      } catch (error) {
        this.onFault({ protocol: protocol.name, stage: 'probe', error });
        verdict = 'no';
        reason = PLUGIN_ERROR_REASON;
      }
      this.verdicts[protocol.name] = reason;
      if (verdict === 'match') {
        this.classification = Object.freeze({ state: 'matched', protocol, variant, reason });
        return this.classification;
      }
      if (verdict === 'no') {
        this.candidates.splice(i, 1);
      } else {
        i++;
      }
    }
    if (this.candidates.length === 0) return this.decideUnknown('no_protocol_matched');
    const seen = datagram.direction === 'forward' ? ++this.forwardSeen : ++this.reverseSeen;
    if (seen >= this.window) return this.decideUnknown('window_exhausted');
    this.history.push(datagram);
    return this.classification;
  }

  private decideUnknown(reason: UnknownReason): Classification {
    this.classification = Object.freeze({
      state: 'unknown',
      reason,
      verdicts: Object.freeze({ ...this.verdicts }),
    });
    return this.classification;
  }
}
