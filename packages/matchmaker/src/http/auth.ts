import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Player-facing auth: an API key (game backends, `x-api-key`) or a bearer
 * token a backend mints for one player:
 *   base64url(JSON {"sub": string, "exp": unix seconds}) "." base64url(HMAC-SHA256(secret, first part))
 * Bearer callers own the tickets they create; API-key callers see all.
 */

export type Principal =
  | { readonly kind: 'api-key' }
  | { readonly kind: 'bearer'; readonly subject: string };

export function signBearerToken(secret: string, subject: string, expiresAtSeconds: number): string {
  const payload = Buffer.from(JSON.stringify({ sub: subject, exp: expiresAtSeconds })).toString(
    'base64url',
  );
  const mac = createHmac('sha256', secret).update(payload).digest('base64url');
  return `${payload}.${mac}`;
}

function verifyBearer(secret: string, token: string, nowSeconds: number): string | null {
  const dot = token.indexOf('.');
  if (dot <= 0 || dot !== token.lastIndexOf('.')) return null;
  const payload = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  const expected = createHmac('sha256', secret).update(payload).digest();
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (claims === null || typeof claims !== 'object') return null;
  const { sub, exp } = claims as { sub?: unknown; exp?: unknown };
  if (typeof sub !== 'string' || sub.length === 0 || typeof exp !== 'number') return null;
  return exp > nowSeconds ? sub : null;
}

function keyMatches(keys: readonly Buffer[], given: string): boolean {
  const candidate = Buffer.from(given);
  let found = false;
  // Compare against every key so timing does not reveal which one matched.
  for (const key of keys)
    if (key.length === candidate.length && timingSafeEqual(key, candidate)) found = true;
  return found;
}

export function createAuthenticator(options: {
  readonly apiKeys: readonly string[];
  readonly bearerSecret: string | undefined;
}): (headers: Readonly<Record<string, string | string[] | undefined>>) => Principal | null {
  const keys = options.apiKeys.map((k) => Buffer.from(k));
  return (headers) => {
    const apiKey = headers['x-api-key'];
    if (typeof apiKey === 'string' && keyMatches(keys, apiKey)) return { kind: 'api-key' };
    const authorization = headers.authorization;
    if (typeof authorization === 'string' && options.bearerSecret !== undefined) {
      const match = /^Bearer\s+(\S+)$/i.exec(authorization);
      const subject =
        match?.[1] === undefined
          ? null
          : verifyBearer(options.bearerSecret, match[1], Math.floor(Date.now() / 1000));
      if (subject !== null) return { kind: 'bearer', subject };
    }
    return null;
  };
}
