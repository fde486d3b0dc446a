import { KEY_BYTES } from './constants.js';
import { type ConnectionRequest, readConnectionRequest } from './packets.js';
import {
  type ConnectTokenPrivate,
  decryptPrivateConnectToken,
  readConnectTokenPrivate,
} from './token.js';

/**
 * What a server (or a proxy holding the private key) checks on a connection
 * request before any state is created, in the reference server's order
 * (PROTOCOLS.md §3.2 "Server processing of a request"): size, version,
 * protocol id, expiry, then the XChaCha20-Poly1305 open of the private token.
 */

export const OPEN_REQUEST_CODES = {
  bad_size: 'not exactly 1078 bytes',
  bad_packet_type: 'first byte is not 0 (connection request)',
  bad_version: 'bytes 1..13 are not "NETCODE 1.02\\0"',
  bad_protocol_id: 'protocol id not in the allowed list',
  expired: 'connect token expire timestamp is not after now',
  forged:
    'private connect token does not open with the key (wrong key, tampered bytes, or changed protocol id / expiry)',
  bad_token: 'private connect token opened but its contents are malformed (address count or type)',
  bad_key: 'the private key is not 32 bytes',
} as const;

export type OpenRequestCode = keyof typeof OPEN_REQUEST_CODES;

export interface OpenedRequest {
  readonly ok: true;
  readonly request: ConnectionRequest;
  /** Last 16 bytes of the request: the token's MAC, its identity for reuse checks and routing. */
  readonly tag: Uint8Array;
  readonly token: ConnectTokenPrivate;
}

export type OpenRequestResult =
  | OpenedRequest
  | { readonly ok: false; readonly code: OpenRequestCode };

export interface OpenRequestOptions {
  readonly privateKey: Uint8Array;
  /** Unix seconds; defaults to the wall clock. */
  readonly now?: number;
  /** When given, only these protocol ids are accepted. */
  readonly protocolIds?: readonly bigint[];
}

export function openConnectionRequest(
  bytes: Uint8Array,
  options: OpenRequestOptions,
): OpenRequestResult {
  const read = readConnectionRequest(bytes);
  if (!read.ok) return read;
  const { request } = read;
  if (options.protocolIds !== undefined && !options.protocolIds.includes(request.protocolId)) {
    return { ok: false, code: 'bad_protocol_id' };
  }
  const now = BigInt(Math.floor(options.now ?? Date.now() / 1000));
  if (request.expireTimestamp <= now) return { ok: false, code: 'expired' };
  if (options.privateKey.length !== KEY_BYTES) return { ok: false, code: 'bad_key' };
  const plain = decryptPrivateConnectToken(request.privateData, {
    protocolId: request.protocolId,
    expireTimestamp: request.expireTimestamp,
    nonce: request.nonce,
    privateKey: options.privateKey,
  });
  if (plain === null) return { ok: false, code: 'forged' };
  const token = readConnectTokenPrivate(plain);
  if (!token.ok) return { ok: false, code: 'bad_token' };
  return { ok: true, request, tag: read.tag, token: token.value };
}
