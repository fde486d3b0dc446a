/**
 * Every error @gamemesh/core can raise, in one table. Codes are stable: tools,
 * logs and metrics match on them, so a code is never renamed or reused.
 * `test/errors.test.ts` checks that each code is documented in docs/errors.md.
 */
export const CORE_ERRORS = {
  GM_CORE_DUPLICATE_PROTOCOL: 'two protocols in one registry share a name',
  GM_CORE_INVALID_PROTOCOL: 'a protocol definition is missing a name, version or function',
  GM_CORE_INVALID_CONFIG: 'a protocol configuration failed validation',
  GM_CORE_INVALID_OPTION: 'an option passed to a core factory is out of range',
  GM_CORE_UNKNOWN_PROTOCOL: 'a protocol name is not in the registry',
} as const;

export type CoreErrorCode = keyof typeof CORE_ERRORS;

/** One problem found while validating a configuration: where, and what. */
export interface ConfigIssue {
  /** JSON-pointer-like path to the offending value, e.g. `/clockRates/96`. */
  readonly path: string;
  readonly message: string;
}

export class GamemeshError extends Error {
  readonly code: string;
  /** Machine-readable facts about the failure (named `context`, not `details`, which test runners reserve). */
  readonly context: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, context: Record<string, unknown> = {}) {
    super(`${code}: ${message}`);
    this.name = 'GamemeshError';
    this.code = code;
    this.context = context;
  }
}

export function coreError(
  code: CoreErrorCode,
  detail?: string,
  context: Record<string, unknown> = {},
): GamemeshError {
  const text = detail === undefined ? CORE_ERRORS[code] : `${CORE_ERRORS[code]}: ${detail}`;
  return new GamemeshError(code, text, context);
}

/** Result of parsing untrusted input: a value or a list of issues, never an exception. */
export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] };
