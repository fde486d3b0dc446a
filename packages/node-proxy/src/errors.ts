/**
 * Every error the proxy reports, in one table. Codes are stable: operators,
 * logs and dashboards match on them, so a code is never renamed or reused.
 * `test/errors.test.ts` checks each one is documented in docs/proxy.md.
 */
export const PROXY_ERRORS = {
  GM_PROXY_USAGE: { exit: 2, message: 'unknown flag or bad flag value' },
  GM_PROXY_CONFIG: { exit: 2, message: 'the config does not match the schema or is inconsistent' },
  GM_PROXY_CONFIG_READ: { exit: 2, message: 'the config file cannot be read or is not YAML' },
  GM_PROXY_LISTEN: { exit: 1, message: 'a UDP listener could not be bound' },
  GM_PROXY_ADMIN_LISTEN: { exit: 1, message: 'the admin API could not be bound' },
  GM_PROXY_DATA_PLANE: { exit: 1, message: 'the native data plane could not be created' },
  GM_PROXY_PODS_LISTEN: { exit: 1, message: 'the pod API could not be bound' },
  GM_PROXY_POD_INVALID: {
    exit: 0,
    message: 'pod API: the request does not match the schema (HTTP 400, 415)',
  },
  GM_PROXY_POD_NOT_FOUND: {
    exit: 0,
    message: 'pod API: no registered pod with this id (HTTP 404)',
  },
  GM_PROXY_POD_CONFLICT: {
    exit: 0,
    message:
      'pod API: the id is a static pod, or the address is registered under another id (HTTP 409)',
  },
  GM_PROXY_INTERNAL: { exit: 0, message: 'pod API: an unexpected failure (HTTP 500)' },
  GM_PROXY_RELOAD_REJECTED: {
    exit: 0,
    message: 'a reload changed something that needs a restart; the running config is kept',
  },
  GM_PROXY_NOT_FOUND: { exit: 0, message: 'admin API: no such route (HTTP 404)' },
} as const;

export type ProxyErrorCode = keyof typeof PROXY_ERRORS;

/** A proxy failure with a stable code; the message adds the specifics. */
export class ProxyError extends Error {
  readonly code: ProxyErrorCode;

  constructor(code: ProxyErrorCode, detail: string) {
    super(`${code}: ${detail}`);
    this.name = 'ProxyError';
    this.code = code;
  }
}
