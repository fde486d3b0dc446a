import { isIP } from 'node:net';

export interface HostPort {
  readonly address: string;
  readonly port: number;
}

/** `HOST:PORT` or `[IPv6]:PORT` with a literal IP address (no DNS: a UDP proxy must not stall on names). */
export function parseHostPort(text: string, allowPortZero = false): HostPort | string {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (match === null) return `expected HOST:PORT, got "${text}"`;
  const address = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  if (isIP(address) === 0) return `"${address}" is not an IP address`;
  if (port > 65_535 || (port === 0 && !allowPortZero)) return `port ${port} is out of range`;
  return { address, port };
}

export function formatHostPort(endpoint: HostPort): string {
  return endpoint.address.includes(':')
    ? `[${endpoint.address}]:${endpoint.port}`
    : `${endpoint.address}:${endpoint.port}`;
}
