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
