// Fills a gamemesh config template with values only known inside the pod
// (secrets, the node's IP and name) and writes it where the program reads it.
// Runs in an init container of the same image, so it needs nothing but node.
// Placeholders are whole YAML scalars, replaced by JSON strings (valid YAML),
// so no value can change the document's structure (a placeholder inside
// JSON quotes is replaced with its quotes):
//   __ENV_NAME__               the environment variable NAME
//   __ADDR_NAME_PORT__         "IP:PORT" from the IP in NAME ([IP]:PORT for IPv6)
import { readFileSync, writeFileSync } from 'node:fs';

const [template, output] = process.argv.slice(2);
const missing = new Set();

function env(name) {
  const value = process.env[name];
  if (value === undefined || value === '') missing.add(name);
  return value ?? '';
}

const text = readFileSync(template, 'utf8')
  .replace(/"?__ADDR_([A-Z0-9_]+?)_(\d+)__"?/g, (_, name, port) => {
    const ip = env(name);
    return JSON.stringify(ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
  })
  .replace(/"?__ENV_([A-Z0-9_]+)__"?/g, (_, name) => JSON.stringify(env(name)));

if (missing.size > 0) {
  process.stderr.write(`render-config: unset environment: ${[...missing].join(', ')}\n`);
  process.exit(2);
}
writeFileSync(output, text, { mode: 0o600 });
