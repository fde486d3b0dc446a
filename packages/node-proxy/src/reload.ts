import { isDeepStrictEqual } from 'node:util';
import type { ProxyConfig } from './config.js';

/**
 * What a reload may not change without a restart: sockets and the data
 * plane's sizing are fixed when it starts, and a listener's mode decides how
 * its flows were answered. Returns one problem per path.
 */
export function reloadProblems(current: ProxyConfig, next: ProxyConfig): string[] {
  const problems: string[] = [];
  const fixed = ['admin', 'podApi', 'dataPlane', 'limits', 'matchmaker'] as const;
  for (const path of fixed)
    if (!isDeepStrictEqual(current[path], next[path])) problems.push(`${path}: needs a restart`);
  const before = new Map(current.listeners.map((l) => [l.name, l]));
  next.listeners.forEach((listener, i) => {
    const was = before.get(listener.name);
    if (was === undefined) problems.push(`listeners[${i}]: a new listener needs a restart`);
    else {
      if (was.address !== listener.address)
        problems.push(`listeners[${i}].address: needs a restart`);
      if (was.mode !== listener.mode) problems.push(`listeners[${i}].mode: needs a restart`);
    }
    before.delete(listener.name);
  });
  for (const name of before.keys()) problems.push(`listeners: removing "${name}" needs a restart`);
  return problems;
}
