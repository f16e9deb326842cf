/**
 * Every setting: its environment variable, its flag, its default and its parser.
 * A flag's environment name is the flag in capitals with `_` for `-`; a flag beats the
 * environment. A bad value throws a ConfigError whose message is one line naming it.
 */
import { ConfigError } from './errors.js';
import { fixedLimits, type ConnectionLimits, type EchoMode } from './limits.js';

export interface Config {
  port: number;
  host: string;
  logLevel: string;
  echo: EchoMode;
  nameMaxLength: number;
  textMaxLength: number;
  registerTimeoutMs: number;
  heartbeatMs: number;
  rateBurst: number;
  ratePerSec: number;
  maxPayloadBytes: number;
  maxBufferedBytes: number;
  maxConnections: number;
  allowedOrigins: string[] | null;
  redisUrl: string | null;
  leaseMs: number;
  inspect: boolean;
  inspectPort: number;
  inspectHost: string;
  inspectPage: boolean;
  inspectToken: string | null;
}

interface Setting<K extends keyof Config> {
  key: K;
  flag: string;
  help: string;
  /** The default as shown by --help and parsed like any other value; null: unset. */
  fallback: string | null;
  parse: (raw: string) => Config[K];
  /** A boolean flag may stand alone: `--inspect` means on. */
  isSwitch?: boolean;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const ECHO_MODES: EchoMode[] = ['anonymous', 'named', 'off'];

function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): number => {
    if (!/^\d+$/.test(raw.trim())) throw new Error(`expected a whole number from ${min} to ${max}`);
    const value = Number(raw.trim());
    if (value < min || value > max) throw new Error(`expected a whole number from ${min} to ${max}`);
    return value;
  };
}

/**
 * The longest delay a Node timer honours: a longer one fires after 1 ms instead, which
 * would drop every client at its first heartbeat or close it before it could register.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A time in ms that the server waits for with a timer. */
function duration(min: number) {
  return integer(min, MAX_TIMER_MS);
}

function oneOf<T extends string>(choices: readonly T[]) {
  return (raw: string): T => {
    const value = raw.trim().toLowerCase() as T;
    if (!choices.includes(value)) throw new Error(`expected one of ${choices.join(', ')}`);
    return value;
  };
}

function boolean(raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(value)) return false;
  throw new Error('expected 1, true, yes, on, 0, false, no or off');
}

function text(raw: string): string {
  if (raw.trim() === '') throw new Error('expected a non-empty value');
  return raw.trim();
}

/**
 * A host name or address. None holds white space, and refusing it here keeps a line break
 * out of the listen error that would otherwise print the value raw.
 */
function host(raw: string): string {
  const value = text(raw);
  if (/[\s\p{Cc}]/u.test(value)) throw new Error('expected a host name or IP address, without spaces');
  return value;
}

/**
 * The allow-list, each origin written the way browsers send `Origin` (lower-case host, no
 * default port, no trailing slash), since the check compares them exactly. An empty list
 * is refused rather than read as "any origin": someone who set it meant to restrict.
 */
function originList(raw: string): string[] {
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0)
    throw new Error('expected at least one origin such as https://chat.example.com (unset it to allow any)');
  return entries.map(origin);
}

function origin(entry: string): string {
  // Browsers send one origin, never a pattern: a wildcard would match nothing, silently.
  if (entry.includes('*')) throw new Error(`${JSON.stringify(entry)}: wildcards are not supported; list each origin`);
  const notAnOrigin = new Error(`${JSON.stringify(entry)} is not an origin such as https://chat.example.com`);
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    throw notAnOrigin;
  }
  const hasMore =
    url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '' || /[?#]$/.test(entry);
  // http(s) have an origin of their own; apps and extensions send other schemes
  // (capacitor://localhost, chrome-extension://<id>), whose origin URL calls "null".
  const special = url.origin !== 'null';
  if (hasMore || url.host === '' || !['', '/'].includes(url.pathname)) throw notAnOrigin;
  return special ? url.origin : `${url.protocol}//${url.host}`.toLowerCase();
}

function redisUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new Error('expected a URL such as redis://127.0.0.1:6379');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error('expected a redis:// or rediss:// URL');
  return raw.trim();
}

const setting = <K extends keyof Config>(s: Setting<K>): Setting<K> => s;

/** The table `--help` prints, in the order SPEC §6 lists them. */
export const settings = [
  setting({
    key: 'port',
    flag: 'port',
    fallback: '8080',
    parse: integer(0, 65535),
    help: 'port to listen on (0: any free port)',
  }),
  setting({ key: 'host', flag: 'host', fallback: '0.0.0.0', parse: host, help: 'address to listen on' }),
  setting({
    key: 'logLevel',
    flag: 'log-level',
    fallback: 'info',
    parse: oneOf(LOG_LEVELS),
    help: LOG_LEVELS.join('|'),
  }),
  setting({
    key: 'echo',
    flag: 'echo',
    fallback: 'anonymous',
    parse: oneOf(ECHO_MODES),
    help: "the sender's own copy: anonymous|named|off",
  }),
  setting({
    key: 'nameMaxLength',
    flag: 'name-max-length',
    fallback: '32',
    parse: integer(1, 1024),
    help: 'longest name, in code points',
  }),
  setting({
    key: 'textMaxLength',
    flag: 'text-max-length',
    fallback: '4096',
    parse: integer(1, 1_000_000),
    help: 'longest message, in code points',
  }),
  setting({
    key: 'registerTimeoutMs',
    flag: 'register-timeout-ms',
    fallback: '10000',
    parse: duration(1),
    help: 'time to register a name before being closed; also the longest an HTTP connection may sit idle (1 s at least)',
  }),
  setting({
    key: 'heartbeatMs',
    flag: 'heartbeat-ms',
    fallback: '30000',
    parse: duration(1),
    help: 'ping interval; a client that misses a pong is ended',
  }),
  setting({
    key: 'rateBurst',
    flag: 'rate-burst',
    fallback: '20',
    parse: integer(0),
    help: 'messages a client may send at once (0: no limit)',
  }),
  setting({
    key: 'ratePerSec',
    flag: 'rate-per-sec',
    fallback: '10',
    parse: integer(0),
    help: 'sustained messages per second (0: no limit)',
  }),
  setting({
    key: 'maxPayloadBytes',
    flag: 'max-payload-bytes',
    fallback: '65536',
    parse: integer(1),
    help: 'largest message (a frame, or fragments in all); larger closes with 1009',
  }),
  setting({
    key: 'maxBufferedBytes',
    flag: 'max-buffered-bytes',
    fallback: '1048576',
    parse: integer(1),
    help: 'unsent data after which a slow client is ended',
  }),
  setting({
    key: 'maxConnections',
    flag: 'max-connections',
    fallback: '10000',
    parse: integer(1),
    help: 'open connections; more get HTTP 503',
  }),
  setting({
    key: 'allowedOrigins',
    flag: 'allowed-origins',
    fallback: null,
    parse: originList,
    help: 'comma-separated Origin allow-list (unset: any)',
  }),
  setting({
    key: 'redisUrl',
    flag: 'redis-url',
    fallback: null,
    parse: redisUrl,
    help: 'shared Redis for cluster mode (unset: one process)',
  }),
  setting({
    key: 'leaseMs',
    flag: 'lease-ms',
    fallback: '15000',
    parse: duration(1000),
    help: "cluster: how long a dead node's names stay taken",
  }),
  setting({
    key: 'inspect',
    flag: 'inspect',
    fallback: 'false',
    parse: boolean,
    isSwitch: true,
    help: 'report actors to the Stately inspector relay',
  }),
  setting({
    key: 'inspectPort',
    flag: 'inspect-port',
    fallback: '8081',
    parse: integer(0, 65535),
    help: 'inspector relay port',
  }),
  setting({
    key: 'inspectHost',
    flag: 'inspect-host',
    fallback: '127.0.0.1',
    parse: host,
    help: 'inspector relay address',
  }),
  setting({
    key: 'inspectPage',
    flag: 'inspect-page',
    fallback: 'false',
    parse: boolean,
    isSwitch: true,
    help: 'serve the live lifecycle page at /inspect',
  }),
  setting({
    key: 'inspectToken',
    flag: 'inspect-token',
    fallback: null,
    parse: text,
    help: 'token /inspect asks for (unset: none)',
  }),
] as const;

export function envName(flag: string): string {
  return flag.toUpperCase().replaceAll('-', '_');
}

/** Thrown for `--help`: the caller prints `usage()` and exits 0. */
export class HelpRequested extends Error {
  override name = 'HelpRequested';
}

/**
 * Reads the settings from flags (`--port 9000`, `--port=9000`, `--inspect`) over
 * environment variables over defaults.
 */
export function loadConfig(argv: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Config {
  const flags = readFlags(argv);
  const config: Partial<Record<keyof Config, unknown>> = {};
  for (const s of settings) {
    const name = envName(s.flag);
    const fromFlag = flags.get(s.flag);
    const raw = fromFlag ?? env[name] ?? s.fallback;
    const source = fromFlag !== undefined ? `--${s.flag}` : env[name] !== undefined ? name : `default of ${name}`;
    if (raw === null) {
      config[s.key] = null;
      continue;
    }
    try {
      config[s.key] = s.parse(raw);
    } catch (err) {
      throw new ConfigError(`invalid ${source}: ${JSON.stringify(raw)}: ${(err as Error).message}`);
    }
  }
  return config as Config;
}

function readFlags(argv: readonly string[]): Map<string, string> {
  const known = new Map<string, (typeof settings)[number]>(settings.map((s) => [s.flag, s]));
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') throw new HelpRequested();
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)} (see --help)`);
    const eq = arg.indexOf('=');
    const flag = arg.slice(2, eq === -1 ? undefined : eq);
    const s = known.get(flag);
    if (s === undefined) throw new ConfigError(`unknown flag --${flag} (see --help)`);
    if (eq !== -1) {
      flags.set(flag, arg.slice(eq + 1));
    } else if ('isSwitch' in s && s.isSwitch && (argv[i + 1] === undefined || argv[i + 1]!.startsWith('--'))) {
      flags.set(flag, 'true');
    } else {
      const value = argv[++i];
      if (value === undefined) throw new ConfigError(`flag --${flag} needs a value (see --help)`);
      flags.set(flag, value);
    }
  }
  return flags;
}

/** The text `--help` prints: every flag, its environment variable and its default. */
export function usage(): string {
  const rows = settings.map((s) => {
    const left = `  --${s.flag}${'isSwitch' in s && s.isSwitch ? '' : ' <value>'}`;
    const fallback = s.fallback === null ? 'unset' : s.fallback;
    return `${left.padEnd(34)} ${envName(s.flag).padEnd(20)} default ${fallback.padEnd(10)} ${s.help}`;
  });
  return [
    'Usage: chat-backend [flags]',
    '',
    'Every flag can also be set by the environment variable beside it.',
    '',
    ...rows,
    '',
  ].join('\n');
}

export function connectionLimits(config: Config): ConnectionLimits {
  return {
    nameMaxLength: config.nameMaxLength,
    textMaxLength: config.textMaxLength,
    registerTimeoutMs: config.registerTimeoutMs,
    heartbeatMs: config.heartbeatMs,
    rateBurst: config.rateBurst,
    ratePerSec: config.ratePerSec,
    ...fixedLimits,
  };
}
