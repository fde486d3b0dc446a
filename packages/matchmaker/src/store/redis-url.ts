/** Where the Redis store connects: parsed from `redis://[user:pass@]host:port/db` (or `rediss://`). */
export interface RedisTarget {
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly tls: boolean;
  readonly username?: string;
  readonly password?: string;
}

export type RedisUrlResult =
  | { readonly ok: true; readonly target: RedisTarget }
  | { readonly ok: false; readonly problem: string };

/** Validates a store URL up front, so a typo is a config error and not a connection timeout. */
export function parseRedisUrl(text: string): RedisUrlResult {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, problem: 'not a URL; expected redis://HOST:PORT/DB' };
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    return { ok: false, problem: 'expected redis:// or rediss://' };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === '') return { ok: false, problem: 'missing host; expected redis://HOST:PORT/DB' };
  const port = url.port === '' ? 6379 : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    return { ok: false, problem: `port ${url.port} is not 1..65535` };
  const path = url.pathname.replace(/^\//, '');
  if (!/^\d{0,2}$/.test(path))
    return { ok: false, problem: `database "${path}" is not a number 0..99` };
  if (url.search !== '' || url.hash !== '')
    return { ok: false, problem: 'query strings and fragments are not supported' };
  const target: RedisTarget = {
    host,
    port,
    db: path === '' ? 0 : Number(path),
    tls: url.protocol === 'rediss:',
    ...(url.username === '' ? {} : { username: decodeURIComponent(url.username) }),
    ...(url.password === '' ? {} : { password: decodeURIComponent(url.password) }),
  };
  return { ok: true, target };
}

/** The URL without credentials, for logs and error messages. */
export function describeRedisTarget(target: RedisTarget): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `${target.tls ? 'rediss' : 'redis'}://${host}:${target.port}/${target.db}`;
}
