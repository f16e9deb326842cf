/**
 * Every setting: its environment variable, its flag, its default and its parser.
 * A flag's environment name is the flag in capitals with `_` for `-`.
 */
import type { ConfigurableLimits, EchoMode } from './limits.js';
import { boolean, duration, host, integer, oneOf, originList, redisUrl, text } from './setting-parsers.js';

/** Every setting's value; the per-connection limits among them are declared in limits.ts. */
export interface Config extends ConfigurableLimits {
  port: number;
  host: string;
  logLevel: string;
  echo: EchoMode;
  maxPayloadBytes: number;
  maxBufferedBytes: number;
  maxConnections: number;
  resumeWindowMs: number;
  historySize: number;
  historyBytes: number;
  /** Origins allowed beside the server's own; `*`: any; null: none (src/origins.ts). */
  allowedOrigins: string[] | '*' | null;
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

const setting = <K extends keyof Config>(s: Setting<K>): Setting<K> => s;

/** The table `--help` prints, in the order the README's settings table lists them. */
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
    key: 'resumeWindowMs',
    flag: 'resume-window-ms',
    fallback: '30000',
    parse: duration(0),
    help: "how long a lost connection's session stays resumable (0: the leave is announced at once)",
  }),
  setting({
    key: 'historySize',
    flag: 'history-size',
    fallback: '100',
    parse: integer(0, 1_000_000),
    help: 'chat events kept for resumes and `history` (also the most `history` sends)',
  }),
  setting({
    key: 'historyBytes',
    flag: 'history-bytes',
    fallback: '8388608',
    parse: integer(0),
    help: 'memory the kept events may hold, estimated',
  }),
  setting({
    key: 'allowedOrigins',
    flag: 'allowed-origins',
    fallback: null,
    parse: originList,
    help: "origins allowed beside the server's own, comma-separated; * for any (unset: its own, and clients without Origin)",
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
