/**
 * Command-line parsing for gamemesh-inspect. Returns options or a usage
 * problem as a value; `cli.ts` turns problems into exit code 1.
 */

export interface CliOptions {
  readonly capture: string | null;
  readonly json: boolean;
  readonly plugins: readonly string[];
  readonly netcodeKey: string | null;
  readonly window: number | null;
  readonly udpPort: number | null;
  readonly help: boolean;
  readonly version: boolean;
}

export type ParsedArgs =
  | { readonly ok: true; readonly options: CliOptions }
  | { readonly ok: false; readonly problem: string };

const VALUE_FLAGS = new Set(['--plugin', '--netcode-key', '--window', '--udp-port']);
const SWITCHES = new Set(['--json', '--help', '-h', '--version', '-V']);

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const positional: string[] = [];
  const plugins: string[] = [];
  let json = false;
  let help = false;
  let version = false;
  let netcodeKey: string | null = null;
  let window: number | null = null;
  let udpPort: number | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (SWITCHES.has(flag)) {
      if (eq > 0) return problem(`${flag} takes no value`);
      if (flag === '--json') json = true;
      else if (flag === '--help' || flag === '-h') help = true;
      else version = true;
      continue;
    }
    if (!VALUE_FLAGS.has(flag)) return problem(`unknown flag ${flag}`);
    let value: string | undefined;
    if (eq > 0) {
      value = arg.slice(eq + 1);
    } else {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined || value === '') return problem(`${flag} needs a value`);
    if (flag === '--plugin') {
      plugins.push(value);
    } else if (flag === '--netcode-key') {
      if (!/^([0-9a-fA-F]{2})+$/.test(value))
        return problem('--netcode-key must be hex digits (whole bytes)');
      netcodeKey = value.toLowerCase();
    } else if (flag === '--window') {
      window = integerIn(value, 1, 64);
      if (window === null) return problem('--window must be an integer in 1..64');
    } else {
      udpPort = integerIn(value, 0, 65535);
      if (udpPort === null) return problem('--udp-port must be an integer in 0..65535');
    }
  }
  if (!help && !version && positional.length !== 1) {
    return problem(
      positional.length === 0
        ? 'missing <capture> file'
        : `expected one <capture> file, got ${positional.length}`,
    );
  }
  return {
    ok: true,
    options: {
      capture: positional[0] ?? null,
      json,
      plugins,
      netcodeKey,
      window,
      udpPort,
      help,
      version,
    },
  };
}

function integerIn(text: string, min: number, max: number): number | null {
  if (!/^\d+$/.test(text)) return null;
  const value = Number(text);
  return value >= min && value <= max ? value : null;
}

function problem(text: string): ParsedArgs {
  return { ok: false, problem: text };
}

export const USAGE = `Usage: gamemesh-inspect [options] <capture.pcap|capture.pcapng>

Reads a pcap or pcapng capture, groups UDP datagrams into flows and reports
which game protocol each flow speaks, its session key and lifecycle.

Options:
  --json               one JSON object per flow per line on stdout
  --plugin <module>    load a protocol plugin (path or package name); repeatable;
                       plugins classify after the built-ins, in the order given
  --netcode-key <hex>  netcode private key, to read connect tokens
  --window <n>         datagrams per direction a flow may stay undecided (1..64, default 8)
  --udp-port <port>    keep only datagrams to or from this UDP port
  -h, --help           show this help
  -V, --version        show the version

Exit codes: 0 ok, 1 usage error, 2 capture error (flows read so far are
still reported), 3 a plugin failed to load or threw (it was isolated).
See docs/inspect.md.
`;
