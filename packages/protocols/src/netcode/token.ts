import { randomBytes } from 'node:crypto';
import { bytesAt, u32le, u64le } from '@gamemesh/core';
import {
  encodedAddressLength,
  type NetcodeAddress,
  parseAddress,
  readAddress,
  writeAddress,
} from './address.js';
import {
  CHALLENGE_TOKEN_BYTES,
  CONNECT_TOKEN_BYTES,
  CONNECT_TOKEN_NONCE_BYTES,
  CONNECT_TOKEN_PRIVATE_BYTES,
  CONNECT_TOKEN_PRIVATE_PLAINTEXT_BYTES,
  KEY_BYTES,
  MAC_BYTES,
  MAX_SERVERS_PER_CONNECT,
  USER_DATA_BYTES,
  VERSION_INFO,
  VERSION_INFO_BYTES,
} from './constants.js';
import { openIetf, openX, sealIetf, sealX, sequenceNonce } from './crypto.js';
import { writeU32le, writeU64le } from './wire.js';

/**
 * Connect tokens (PROTOCOLS.md §3.1). The public token (2048 bytes) reaches
 * the client over HTTPS; its encrypted private part travels inside the
 * connection request, and only holders of the private key can open it.
 */

export interface ConnectTokenPrivate {
  readonly clientId: bigint;
  /** Signed: negative disables the timeout (development only). */
  readonly timeoutSeconds: number;
  readonly serverAddresses: readonly NetcodeAddress[];
  readonly clientToServerKey: Uint8Array;
  readonly serverToClientKey: Uint8Array;
  readonly userData: Uint8Array;
}

export interface ConnectToken {
  readonly protocolId: bigint;
  readonly createTimestamp: bigint;
  readonly expireTimestamp: bigint;
  readonly nonce: Uint8Array;
  /** The 1024-byte encrypted private token (last 16 bytes: the tag servers use as the token's identity). */
  readonly privateData: Uint8Array;
  readonly timeoutSeconds: number;
  readonly serverAddresses: readonly NetcodeAddress[];
  readonly clientToServerKey: Uint8Array;
  readonly serverToClientKey: Uint8Array;
}

export type TokenErrorCode =
  | 'bad_size'
  | 'bad_version'
  | 'bad_timestamps'
  | 'bad_address_count'
  | 'bad_address';

export type TokenRead<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: TokenErrorCode };

/** Encodes the private token, zero padded to 1024 bytes (the last 16 are room for the MAC). */
export function writeConnectTokenPrivate(token: ConnectTokenPrivate): Uint8Array {
  const out = new Uint8Array(CONNECT_TOKEN_PRIVATE_BYTES);
  writeU64le(out, 0, token.clientId);
  writeU32le(out, 8, token.timeoutSeconds);
  const o = writeServersAndKeys(out, 12, token);
  out.set(token.userData, o);
  return out;
}

/** Decodes a decrypted private token (at least its first 1008 bytes). */
export function readConnectTokenPrivate(plain: Uint8Array): TokenRead<ConnectTokenPrivate> {
  const end = CONNECT_TOKEN_PRIVATE_PLAINTEXT_BYTES;
  if (plain.length < end) return { ok: false, code: 'bad_size' };
  const read = readServersAndKeys(plain, 12, end);
  if (!read.ok) return read;
  const { next, ...serversAndKeys } = read.value;
  // 32 addresses of the largest kind still leave room for keys and user data in 1008 bytes.
  return {
    ok: true,
    value: {
      clientId: u64le(plain, 0),
      timeoutSeconds: u32le(plain, 8) | 0,
      ...serversAndKeys,
      userData: plain.slice(next, next + USER_DATA_BYTES),
    },
  };
}

export interface PrivateTokenSeal {
  readonly protocolId: bigint;
  readonly expireTimestamp: bigint;
  readonly nonce: Uint8Array;
  readonly privateKey: Uint8Array;
}

/** AD binds the token to version, protocol and expiry (netcode.c:1249-1256). */
export function privateTokenAd(protocolId: bigint, expireTimestamp: bigint): Uint8Array {
  const ad = new Uint8Array(VERSION_INFO_BYTES + 16);
  ad.set(VERSION_INFO, 0);
  writeU64le(ad, VERSION_INFO_BYTES, protocolId);
  writeU64le(ad, VERSION_INFO_BYTES + 8, expireTimestamp);
  return ad;
}

/** Encrypts the first 1008 bytes of a 1024-byte private token; the MAC fills the last 16. */
export function encryptPrivateConnectToken(plain: Uint8Array, seal: PrivateTokenSeal): Uint8Array {
  const ad = privateTokenAd(seal.protocolId, seal.expireTimestamp);
  return sealX(
    seal.privateKey,
    seal.nonce,
    ad,
    plain.subarray(0, CONNECT_TOKEN_PRIVATE_PLAINTEXT_BYTES),
  );
}

/** The 1008 plaintext bytes, or null when the MAC does not verify (wrong key, AD, or tampering). */
export function decryptPrivateConnectToken(
  sealed: Uint8Array,
  seal: PrivateTokenSeal,
): Uint8Array | null {
  if (
    sealed.length !== CONNECT_TOKEN_PRIVATE_BYTES ||
    seal.nonce.length !== CONNECT_TOKEN_NONCE_BYTES
  )
    return null;
  if (seal.privateKey.length !== KEY_BYTES) return null;
  return openX(
    seal.privateKey,
    seal.nonce,
    privateTokenAd(seal.protocolId, seal.expireTimestamp),
    sealed,
  );
}

export interface ConnectTokenOptions {
  readonly clientId: bigint | number;
  readonly protocolId: bigint | number;
  readonly privateKey: Uint8Array;
  /** `ip:port` / `[v6]:port` strings or parsed addresses, 1..32 of them. */
  readonly serverAddresses: readonly (string | NetcodeAddress)[];
  readonly expireSeconds: number;
  readonly timeoutSeconds: number;
  readonly userData?: Uint8Array;
  readonly nonce?: Uint8Array;
  /** Unix seconds; defaults to now. */
  readonly createTimestamp?: bigint | number;
  readonly clientToServerKey?: Uint8Array;
  readonly serverToClientKey?: Uint8Array;
}

export interface GeneratedConnectToken {
  /** The 2048-byte public connect token to hand to the client. */
  readonly bytes: Uint8Array;
  readonly token: ConnectToken;
  readonly privateToken: ConnectTokenPrivate;
}

/** Mints a connect token. Invalid arguments are programming errors and throw RangeError. */
export function generateConnectToken(options: ConnectTokenOptions): GeneratedConnectToken {
  const need = (ok: boolean, what: string): void => {
    if (!ok) throw new RangeError(`generateConnectToken: ${what}`);
  };
  need(options.privateKey.length === KEY_BYTES, 'privateKey must be 32 bytes');
  need(
    options.serverAddresses.length >= 1 &&
      options.serverAddresses.length <= MAX_SERVERS_PER_CONNECT,
    'serverAddresses must hold 1..32 addresses',
  );
  need(
    Number.isInteger(options.timeoutSeconds) && Math.abs(options.timeoutSeconds) < 2 ** 31,
    'timeoutSeconds must be an int32',
  );
  need(
    Number.isInteger(options.expireSeconds) && options.expireSeconds >= 0,
    'expireSeconds must be a non-negative integer',
  );
  const serverAddresses = options.serverAddresses.map((entry) => {
    const address = typeof entry === 'string' ? parseAddress(entry) : entry;
    need(address !== null, `bad server address ${JSON.stringify(entry)}`);
    return address as NetcodeAddress;
  });
  const userData = new Uint8Array(USER_DATA_BYTES);
  if (options.userData !== undefined) {
    need(options.userData.length <= USER_DATA_BYTES, 'userData must be at most 256 bytes');
    userData.set(options.userData);
  }
  const nonce = options.nonce ?? new Uint8Array(randomBytes(CONNECT_TOKEN_NONCE_BYTES));
  need(nonce.length === CONNECT_TOKEN_NONCE_BYTES, 'nonce must be 24 bytes');
  const clientToServerKey = options.clientToServerKey ?? new Uint8Array(randomBytes(KEY_BYTES));
  const serverToClientKey = options.serverToClientKey ?? new Uint8Array(randomBytes(KEY_BYTES));
  need(
    clientToServerKey.length === KEY_BYTES && serverToClientKey.length === KEY_BYTES,
    'session keys must be 32 bytes',
  );
  const createTimestamp = BigInt(options.createTimestamp ?? Math.floor(Date.now() / 1000));
  const expireTimestamp = createTimestamp + BigInt(options.expireSeconds);
  const protocolId = BigInt.asUintN(64, BigInt(options.protocolId));
  const privateToken: ConnectTokenPrivate = {
    clientId: BigInt.asUintN(64, BigInt(options.clientId)),
    timeoutSeconds: options.timeoutSeconds,
    serverAddresses,
    clientToServerKey,
    serverToClientKey,
    userData,
  };
  const privateData = encryptPrivateConnectToken(writeConnectTokenPrivate(privateToken), {
    protocolId,
    expireTimestamp,
    nonce,
    privateKey: options.privateKey,
  });
  const token: ConnectToken = {
    protocolId,
    createTimestamp,
    expireTimestamp,
    nonce,
    privateData,
    timeoutSeconds: options.timeoutSeconds,
    serverAddresses,
    clientToServerKey,
    serverToClientKey,
  };
  return { bytes: writeConnectToken(token), token, privateToken };
}

/** Public token layout: netcode_write_connect_token (netcode.c:2136). */
export function writeConnectToken(token: ConnectToken): Uint8Array {
  const out = new Uint8Array(CONNECT_TOKEN_BYTES);
  out.set(VERSION_INFO, 0);
  writeU64le(out, 13, token.protocolId);
  writeU64le(out, 21, token.createTimestamp);
  writeU64le(out, 29, token.expireTimestamp);
  out.set(token.nonce, 37);
  out.set(token.privateData, 61);
  const o = 61 + CONNECT_TOKEN_PRIVATE_BYTES;
  writeU32le(out, o, token.timeoutSeconds);
  writeServersAndKeys(out, o + 4, token);
  return out;
}

/** Reads a public token with the checks of netcode_read_connect_token (netcode.c:2200). */
export function readConnectToken(bytes: Uint8Array): TokenRead<ConnectToken> {
  if (bytes.length !== CONNECT_TOKEN_BYTES) return { ok: false, code: 'bad_size' };
  if (!bytesAt(bytes, 0, VERSION_INFO)) return { ok: false, code: 'bad_version' };
  const createTimestamp = u64le(bytes, 21);
  const expireTimestamp = u64le(bytes, 29);
  if (createTimestamp > expireTimestamp) return { ok: false, code: 'bad_timestamps' };
  const o = 61 + CONNECT_TOKEN_PRIVATE_BYTES;
  const timeoutSeconds = u32le(bytes, o) | 0;
  const read = readServersAndKeys(bytes, o + 4, CONNECT_TOKEN_BYTES - 2 * KEY_BYTES);
  if (!read.ok) return read;
  const { next: _, ...serversAndKeys } = read.value;
  return {
    ok: true,
    value: {
      protocolId: u64le(bytes, 13),
      createTimestamp,
      expireTimestamp,
      nonce: bytes.slice(37, 61),
      privateData: bytes.slice(61, 61 + CONNECT_TOKEN_PRIVATE_BYTES),
      timeoutSeconds,
      ...serversAndKeys,
    },
  };
}

/** The tail both token layouts share: `u32 count | count addresses | c2s key | s2c key`. */
interface ServersAndKeys {
  readonly serverAddresses: readonly NetcodeAddress[];
  readonly clientToServerKey: Uint8Array;
  readonly serverToClientKey: Uint8Array;
}

/** Writes the shared tail with its count at `offset`; returns the offset after the keys. */
function writeServersAndKeys(out: Uint8Array, offset: number, tail: ServersAndKeys): number {
  writeU32le(out, offset, tail.serverAddresses.length);
  let o = offset + 4;
  for (const address of tail.serverAddresses) o = writeAddress(out, o, address);
  out.set(tail.clientToServerKey, o);
  out.set(tail.serverToClientKey, o + KEY_BYTES);
  return o + 2 * KEY_BYTES;
}

/** Reads the shared tail with its count at `offset`; no address may reach past `addressesEnd`. */
function readServersAndKeys(
  b: Uint8Array,
  offset: number,
  addressesEnd: number,
): TokenRead<ServersAndKeys & { readonly next: number }> {
  const count = u32le(b, offset);
  if (count < 1 || count > MAX_SERVERS_PER_CONNECT) return { ok: false, code: 'bad_address_count' };
  const serverAddresses: NetcodeAddress[] = [];
  let o = offset + 4;
  for (let i = 0; i < count; i++) {
    const read = readAddress(b, o, addressesEnd);
    if (read === null) return { ok: false, code: 'bad_address' };
    serverAddresses.push(read.address);
    o = read.next;
  }
  return {
    ok: true,
    value: {
      serverAddresses,
      clientToServerKey: b.slice(o, o + KEY_BYTES),
      serverToClientKey: b.slice(o + KEY_BYTES, o + 2 * KEY_BYTES),
      next: o + 2 * KEY_BYTES,
    },
  };
}

export function connectTokenTag(token: ConnectToken): Uint8Array {
  return token.privateData.subarray(CONNECT_TOKEN_PRIVATE_BYTES - MAC_BYTES);
}

/** Bytes an encoded private token needs before padding; exposed for layout tests. */
export function privateTokenUsedBytes(token: ConnectTokenPrivate): number {
  let n = 16;
  for (const address of token.serverAddresses) n += encodedAddressLength(address);
  return n + 2 * KEY_BYTES + USER_DATA_BYTES;
}

// Challenge token (server-only secret): u64 client id | 256 user data | pad to 300,
// sealed over the first 284 bytes with no AD (PROTOCOLS.md §3.2).
export interface ChallengeToken {
  readonly clientId: bigint;
  readonly userData: Uint8Array;
}

export function encryptChallengeToken(
  token: ChallengeToken,
  sequence: bigint,
  key: Uint8Array,
): Uint8Array {
  const plain = new Uint8Array(CHALLENGE_TOKEN_BYTES - MAC_BYTES);
  writeU64le(plain, 0, token.clientId);
  plain.set(token.userData.subarray(0, USER_DATA_BYTES), 8);
  return sealIetf(key, sequenceNonce(sequence), null, plain);
}

export function decryptChallengeToken(
  sealed: Uint8Array,
  sequence: bigint,
  key: Uint8Array,
): ChallengeToken | null {
  if (sealed.length !== CHALLENGE_TOKEN_BYTES) return null;
  const plain = openIetf(key, sequenceNonce(sequence), null, sealed);
  if (plain === null) return null;
  return { clientId: u64le(plain, 0), userData: plain.slice(8, 8 + USER_DATA_BYTES) };
}
