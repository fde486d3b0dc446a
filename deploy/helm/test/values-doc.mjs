// Generates the values reference of a chart from its values.schema.json:
// `node deploy/helm/test/values-doc.mjs gamemesh` prints the Markdown table
// that docs/helm.md holds (the chart tests check it is up to date).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function rows(schema, prefix, out) {
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    const type = prop.enum ? prop.enum.map((v) => `\`${v}\``).join(' \\| ') : prop.type;
    out.push(`| \`${path}\` | ${type} | ${(prop.description ?? '').replaceAll('|', '\\|')} |`);
    if (prop.properties) rows(prop, path, out);
  }
  return out;
}

export function valuesReference(schema) {
  return ['| value | type | description |', '|---|---|---|', ...rows(schema, '', [])].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const chart = process.argv[2] ?? 'gamemesh';
  const file = join(dirname(fileURLToPath(import.meta.url)), '..', chart, 'values.schema.json');
  process.stdout.write(`${valuesReference(JSON.parse(readFileSync(file, 'utf8')))}\n`);
}
