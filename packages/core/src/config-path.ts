import { readFileSync } from 'node:fs';

/**
 * Turning schema-validation output into the messages gamemesh's daemons print
 * for a bad config file: a path as users write it, one problem per path.
 */

/** A JSON pointer (`/clusters/0/name`) as written in YAML terms (`clusters[0].name`); `(root)` for the document. */
export function dottedPath(pointer: string, base = ''): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
  const out = parts.reduce(
    (text, part) => (/^\d+$/.test(part) ? `${text}[${part}]` : text ? `${text}.${part}` : part),
    base,
  );
  return out === '' ? '(root)' : out;
}

/**
 * Schema validators report a failed union once per alternative; a user wants
 * one problem per path, the first.
 */
export function firstProblemPerPath(
  issues: Iterable<{ readonly path: string; readonly message: string }>,
): { path: string; problem: string }[] {
  const seen = new Set<string>();
  const out: { path: string; problem: string }[] = [];
  for (const issue of issues) {
    const path = dottedPath(issue.path);
    if (seen.has(path)) continue;
    seen.add(path);
    out.push({ path, problem: issue.message });
  }
  return out;
}

/** One problem in a config file, at a dotted path (`pools[0].teams.size`). */
export interface ConfigProblem {
  readonly path: string;
  readonly problem: string;
}

/**
 * The three schema operations config validation needs, shaped like TypeBox's
 * `Value` namespace so daemons pass it as is; core stays free of a schema
 * library its plugins would then inherit.
 */
export interface SchemaValues<Schema> {
  Clone<T>(value: T): T;
  Default(schema: Schema, value: unknown): unknown;
  Errors(
    schema: Schema,
    value: unknown,
  ): Iterable<{ readonly path: string; readonly message: string }>;
}

/**
 * Fills defaults on a copy of `raw` (an empty file reads as `{}`), validates it
 * against `schema`, then runs `crossCheck` for the relations a schema cannot
 * express. Schema problems come first, one per path; cross-checks run only on
 * a config that passed the schema, so they can trust its shape.
 */
export function validateConfig<Schema, Config>(
  values: SchemaValues<Schema>,
  schema: Schema,
  raw: unknown,
  crossCheck: (config: Config) => readonly ConfigProblem[],
):
  | { readonly ok: true; readonly value: Config }
  | { readonly ok: false; readonly errors: readonly ConfigProblem[] } {
  const input = raw === null || raw === undefined ? {} : raw;
  const withDefaults = values.Default(schema, values.Clone(input));
  const schemaErrors = firstProblemPerPath(values.Errors(schema, withDefaults));
  if (schemaErrors.length > 0) return { ok: false, errors: schemaErrors };
  // No schema problems: the value has the shape `Config` (the schema's static type) describes.
  const config = withDefaults as Config;
  const crossErrors = crossCheck(config);
  if (crossErrors.length > 0) return { ok: false, errors: crossErrors };
  return { ok: true, value: config };
}

/**
 * Reads a config file and parses it with `parse` (YAML in the daemons); an
 * empty document is an empty config. Failures are problems on the `(file)` path.
 */
export function readConfigDocument(
  path: string,
  parse: (text: string) => unknown,
):
  | { readonly ok: true; readonly raw: unknown }
  | { readonly ok: false; readonly errors: readonly ConfigProblem[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return {
      ok: false,
      errors: [{ path: '(file)', problem: `cannot read ${path}: ${String(error)}` }],
    };
  }
  try {
    return { ok: true, raw: parse(text) ?? {} };
  } catch (error) {
    return { ok: false, errors: [{ path: '(file)', problem: `not valid YAML: ${String(error)}` }] };
  }
}

/** One line per problem, as the daemons print them. */
export function formatConfigProblems(problems: readonly ConfigProblem[]): string {
  return problems.map((e) => `config: ${e.path}: ${e.problem}`).join('\n');
}
