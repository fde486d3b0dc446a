import type { Flow } from './flow.js';
import type { LifecycleEvent } from './protocol.js';

/**
 * Sessions that span flows. A protocol family shares keys across flows: an
 * RTCP BYE arriving on the RTCP port closes the RTP flow with the same SSRC.
 * The book indexes flows by `family/key` and routes closes to all of them.
 */
export interface SessionBook {
  /** Records (or refreshes) the key under which `flow` is known. */
  index(family: string, flow: Flow): void;
  /** Applies `events` produced by a flow of `family`; returns how many other flows were closed. */
  route(family: string, events: readonly LifecycleEvent[]): number;
  forget(flow: Flow): void;
}

export function createSessionBook(): SessionBook {
  const flowsByKey = new Map<string, Set<Flow>>();
  const keyOfFlow = new Map<Flow, string>();

  const index = (family: string, flow: Flow): void => {
    const key = flow.key();
    if (key === null) return;
    const slot = `${family}/${key}`;
    const previous = keyOfFlow.get(flow);
    if (previous === slot) return;
    if (previous !== undefined) flowsByKey.get(previous)?.delete(flow);
    keyOfFlow.set(flow, slot);
    let flows = flowsByKey.get(slot);
    if (flows === undefined) {
      flows = new Set();
      flowsByKey.set(slot, flows);
    }
    flows.add(flow);
  };

  return {
    index,
    route(family, events) {
      let closedElsewhere = 0;
      for (const event of events) {
        if (event.type !== 'closed' || event.key === null) continue;
        for (const flow of flowsByKey.get(`${family}/${event.key}`) ?? []) {
          if (flow.closed !== null) continue;
          flow.close(event.reason, event.at);
          closedElsewhere++;
        }
      }
      return closedElsewhere;
    },
    forget(flow) {
      const slot = keyOfFlow.get(flow);
      if (slot === undefined) return;
      keyOfFlow.delete(flow);
      flowsByKey.get(slot)?.delete(flow);
    },
  };
}
