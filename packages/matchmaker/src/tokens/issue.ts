import { signRoutingToken } from '@gamemesh/core';
import { generateConnectToken } from '@gamemesh/protocols/netcode';
import type { MatchmakerConfig, PoolConfig } from '../config.js';
import type { TokenKind } from '../domain/types.js';
import { RandomPool } from './random-pool.js';

/** The random id at the head of a routing token (@gamemesh/core routing-token.ts). */
const ROUTING_TOKEN_ID_BYTES = 8;

export interface IssuedToken {
  /** What the player gets (base64url for binary tokens, decimal for protocol keys). */
  readonly token: string;
  /** What the node proxy routes on (DESIGN.md routing keys). */
  readonly key: string;
  readonly kind: TokenKind;
}

export interface TokenIssuer {
  issue(pool: PoolConfig, proxyAddress: string, expiresAt: number): IssuedToken;
}

/** Mints one token per player; the kind is the pool's `token` setting. */
export function createTokenIssuer(config: MatchmakerConfig, routingSecret: string): TokenIssuer {
  const netcode = config.tokens.netcode;
  const netcodeKey = netcode === undefined ? null : Buffer.from(netcode.privateKey, 'hex');
  // The HMAC key as bytes once, not converted from the string for every token.
  const routingKey = Buffer.from(routingSecret);
  const random = new RandomPool();
  return {
    issue(pool, proxyAddress, expiresAt) {
      const expiresAtSeconds = Math.ceil(expiresAt / 1000);
      switch (pool.token) {
        case 'routing': {
          const { bytes, key } = signRoutingToken(
            routingKey,
            expiresAtSeconds,
            random.take(ROUTING_TOKEN_ID_BYTES),
          );
          const token = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString(
            'base64url',
          );
          return { token, key, kind: 'routing' };
        }
        case 'netcode': {
          // parseConfig rejects netcode pools without tokens.netcode.
          const nowSeconds = Math.floor(Date.now() / 1000);
          const generated = generateConnectToken({
            clientId: random.uint64(),
            protocolId: BigInt(netcode!.protocolId),
            privateKey: netcodeKey!,
            serverAddresses: [proxyAddress],
            createTimestamp: nowSeconds,
            expireSeconds: Math.max(1, expiresAtSeconds - nowSeconds),
            timeoutSeconds: netcode!.timeoutSeconds,
          });
          const privateData = generated.token.privateData;
          // The proxy keys netcode sessions by the private token's tag (its last 16 bytes).
          const key = Buffer.from(privateData.subarray(privateData.length - 16)).toString('hex');
          return {
            token: Buffer.from(generated.bytes).toString('base64url'),
            key,
            kind: 'netcode',
          };
        }
        case 'protocol-key': {
          // KCP conv / RTP SSRC: a random non-zero u32, as a decimal string.
          const value = random.uint32() || 1;
          return { token: String(value), key: String(value), kind: 'protocol-key' };
        }
      }
    },
  };
}
