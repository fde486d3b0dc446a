import { isIPv4 } from 'node:net';

/**
 * Source addresses a public listener never accepts unless told to: nothing on
 * the internet legitimately sends from them, and answering them turns the
 * proxy into a reflector (a spoofed loopback source makes the upstream reply
 * to the node itself; multicast and broadcast sources amplify).
 */
export type SourceClass = 'loopback' | 'multicast' | 'broadcast' | 'unspecified' | 'ordinary';

export function classifySource(address: string): SourceClass {
  const v4 = isIPv4(address)
    ? address
    : (/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] ?? null);
  if (v4 !== null) {
    const first = Number(v4.split('.')[0]);
    if (v4 === '255.255.255.255') return 'broadcast';
    if (v4 === '0.0.0.0') return 'unspecified';
    if (first === 127) return 'loopback';
    if (first >= 224 && first <= 239) return 'multicast';
    return 'ordinary';
  }
  const lower = address.toLowerCase();
  if (lower === '::1') return 'loopback';
  if (lower === '::') return 'unspecified';
  if (lower.startsWith('ff')) return 'multicast';
  return 'ordinary';
}

/** Whether a public listener drops this source (loopback only when allowed). */
export function refusedSource(
  address: string,
  allowLoopback: boolean,
): Exclude<SourceClass, 'ordinary'> | null {
  const kind = classifySource(address);
  if (kind === 'ordinary') return null;
  if (kind === 'loopback' && allowLoopback) return null;
  return kind;
}
