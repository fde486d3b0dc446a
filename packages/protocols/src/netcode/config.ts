import type { ConfigIssue, Parsed } from '@gamemesh/core';
import { fromHex } from './wire.js';

/** Typed netcode plugin configuration. */
export interface NetcodeConfig {
  /**
   * The 32-byte private key shared by the backend and game servers, as 64 hex
   * characters. With it the tracker opens connect tokens (client id, server
   * addresses, user data) and authenticates later packets; null = keyless.
   */
  readonly privateKey: string | null;
  /** Allow-list of protocol ids (u64 as decimal strings); null accepts any. */
  readonly protocolIds: readonly string[] | null;
}

export const NETCODE_DEFAULTS: NetcodeConfig = { privateKey: null, protocolIds: null };

const U64_MAX = (1n << 64n) - 1n;

export function parseNetcodeConfig(raw: unknown, defaults: NetcodeConfig): Parsed<NetcodeConfig> {
  if (raw === undefined || raw === null) return { ok: true, value: { ...defaults } };
  if (typeof raw !== 'object' || Array.isArray(raw))
    return { ok: false, issues: [{ path: '', message: 'must be an object' }] };
  const issues: ConfigIssue[] = [];
  let privateKey = defaults.privateKey;
  let protocolIds = defaults.protocolIds;
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (value === undefined) continue;
    if (name === 'privateKey') {
      if (value === null) privateKey = null;
      else if (typeof value !== 'string')
        issues.push({
          path: '/privateKey',
          message: 'must be a string of 64 hex characters or null',
        });
      else if (value.length !== 64 || fromHex(value) === null)
        issues.push({
          path: '/privateKey',
          message: `must be 64 hex characters (32 bytes), got ${value.length} characters`,
        });
      else privateKey = value.toLowerCase();
    } else if (name === 'protocolIds') {
      if (value === null) protocolIds = null;
      else if (!Array.isArray(value))
        issues.push({
          path: '/protocolIds',
          message: 'must be an array of u64 protocol ids or null',
        });
      else {
        const ids: string[] = [];
        value.forEach((entry: unknown, index: number) => {
          const id = toU64(entry);
          if (id === null)
            issues.push({
              path: `/protocolIds/${index}`,
              message:
                'must be a u64 as a decimal string, a non-negative safe integer, or a bigint',
            });
          else ids.push(id.toString());
        });
        protocolIds = ids;
      }
    } else {
      issues.push({ path: `/${name}`, message: 'unknown option' });
    }
  }
  return issues.length > 0
    ? { ok: false, issues }
    : { ok: true, value: { privateKey, protocolIds } };
}

function toU64(value: unknown): bigint | null {
  let id: bigint;
  if (typeof value === 'bigint') id = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) id = BigInt(value);
  else if (typeof value === 'string' && /^\d{1,20}$/.test(value)) id = BigInt(value);
  else return null;
  return id >= 0n && id <= U64_MAX ? id : null;
}
