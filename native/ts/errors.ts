import { GamemeshError } from '@gamemesh/core';

/**
 * Every error @gamemesh/native can raise, in one table. Codes are stable (logs
 * and tools match on them) and each is documented in docs/native.md, which a
 * test checks. The addon throws the same codes for what only it can see
 * (sockets, threads, memory); the wrapper rethrows them as NativeError.
 */
export const NATIVE_ERRORS = {
  GM_NATIVE_LOAD_FAILED: 'the addon could not be loaded (not built, or built for another Node ABI)',
  GM_NATIVE_INVALID_OPTION: 'a data plane option is missing, of the wrong type or out of range',
  GM_NATIVE_INVALID_ARGUMENT:
    'an argument to a data plane method is of the wrong type or out of range',
  GM_NATIVE_CLOSED: 'the data plane was closed',
  GM_NATIVE_SOCKET: 'a listener socket could not be created or bound (the message names the errno)',
  GM_NATIVE_THREAD: 'an I/O thread, its epoll or its eventfd could not be created',
  GM_NATIVE_OUT_OF_MEMORY: 'the flow table, rings or shared memory could not be allocated',
  GM_NATIVE_LISTENER_LIMIT: 'the data plane already has the maximum number of listeners',
  GM_NATIVE_UNKNOWN_LISTENER: 'no listener with that id',
  GM_NATIVE_UNKNOWN_FLOW:
    'the flow was already answered, or is not a pending flow of this data plane',
  GM_NATIVE_NAPI: 'an N-API call failed inside the addon',
  GM_NATIVE_INTERNAL: 'the addon returned an error code the wrapper does not know',
} as const;

export type NativeErrorCode = keyof typeof NATIVE_ERRORS;

export class NativeError extends GamemeshError {
  declare readonly code: NativeErrorCode;

  constructor(code: NativeErrorCode, detail?: string, context: Record<string, unknown> = {}) {
    super(
      code,
      detail === undefined ? NATIVE_ERRORS[code] : `${NATIVE_ERRORS[code]}: ${detail}`,
      context,
    );
    this.name = 'NativeError';
  }
}

export function nativeError(code: NativeErrorCode, detail?: string): NativeError {
  return new NativeError(code, detail);
}

function isNativeCode(code: unknown): code is NativeErrorCode {
  return typeof code === 'string' && Object.hasOwn(NATIVE_ERRORS, code);
}

/** Runs an addon call, turning what it throws into a NativeError with the addon's code. */
export function callAddon<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    if (error instanceof NativeError) throw error;
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message : String(error);
    throw new NativeError(isNativeCode(code) ? code : 'GM_NATIVE_INTERNAL', message);
  }
}
