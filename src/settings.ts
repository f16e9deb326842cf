/**
 * Every setting: its environment variable, its flag, its default and its parser.
 * A flag's environment name is the flag in capitals with `_` for `-`.
 */
import type { ConfigurableLimits, EchoMode } from './limits.js';
import { boolean, duration, host, integer, oneOf, originList, proxyList, redisUrl, text } from './setting-parsers.js';

/** Every setting's value; the per-connection limits among them are declared in limits.ts. */
export interface Config extends ConfigurableLimits {
  port: number;
  host: string;
  logLevel: string;
  echo: EchoMode;
  maxPayloadBytes: number;
  maxBufferedBytes: number;
  maxConnections: number;
  addressMaxConnections: number;
  addressMaxUnregistered: number;
  addressConnectBurst: number;
  addressConnectsPerSec: number;
  addressMaxNames: number;
  addressRegistrationsPerMin: number;
  resumeWindowMs: number;
  historySize: number;
  historyBytes: number;
  /** Origins allowed beside the server's own; `*`: any; null: none (src/origins.ts). */
  allowedOrigins: string[] | '*' | null;
  /** Proxies whose X-Forwarded-For is believed, as normal CIDRs (`10.0.0.0/8`); null: none. */
  trustProxy: string[] | null;
  /** After SIGTERM/SIGINT: how long clients are still served, not ready and taking no new ones, before they are closed. */
  drainMs: number;
  redisUrl: string | null;
  leaseMs: number;
  logMaxBytes: number;
  logMaxAgeMs: number;
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
    key: 'addressMaxConnections',
    flag: 'address-max-connections',
    fallback: '256',
    parse: integer(0),
    help: 'open connections per client address; more get HTTP 503 (0: no limit)',
  }),
  setting({
    key: 'addressMaxUnregistered',
    flag: 'address-max-unregistered',
    fallback: '64',
    parse: integer(0),
    help: 'connections per client address without a name yet; more get HTTP 503 (0: no limit)',
  }),
  setting({
    key: 'addressConnectBurst',
    flag: 'address-connect-burst',
    fallback: '200',
    parse: integer(0),
    help: 'connects a client address may make at once; more get HTTP 429 (0: no limit)',
  }),
  setting({
    key: 'addressConnectsPerSec',
    flag: 'address-connects-per-sec',
    fallback: '20',
    parse: integer(0),
    help: 'sustained connects per second per client address (0: no limit)',
  }),
  setting({
    key: 'addressMaxNames',
    flag: 'address-max-names',
    fallback: '128',
    parse: integer(0),
    help: 'names a client address may hold, sessions waiting for a resume included (0: no limit)',
  }),
  setting({
    key: 'addressRegistrationsPerMin',
    flag: 'address-registrations-per-min',
    fallback: '60',
    parse: integer(0),
    help: 'names a client address may claim per minute (0: no limit)',
  }),
  setting({
    key: 'addressRateBurst',
    flag: 'address-rate-burst',
    fallback: '60',
    parse: integer(0),
    help: 'messages a client address may send at once, all its connections together (0: no limit)',
  }),
  setting({
    key: 'addressRatePerSec',
    flag: 'address-rate-per-sec',
    fallback: '30',
    parse: integer(0),
    help: 'sustained messages per second per client address, all its connections together (0: no limit)',
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
    key: 'trustProxy',
    flag: 'trust-proxy',
    fallback: null,
    parse: proxyList,
    help: 'comma-separated proxy addresses or networks (10.0.0.0/8) whose X-Forwarded-For is believed (unset: none)',
  }),
  setting({
    key: 'drainMs',
    flag: 'drain-ms',
    fallback: '0',
    parse: duration(0),
    help: 'after SIGTERM/SIGINT: /readyz and new clients get 503 while the open ones are served this long, then closed with 1001 (a second signal ends it)',
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
    key: 'logMaxBytes',
    flag: 'log-max-bytes',
    fallback: '67108864',
    parse: integer(0),
    help: "cluster: size of the shared log's entries in Redis, estimated; the oldest go first (0: no bound)",
  }),
  setting({
    key: 'logMaxAgeMs',
    flag: 'log-max-age-ms',
    fallback: '86400000',
    parse: integer(0),
    help: "cluster: age of the shared log's oldest entry; older ones go (0: no bound)",
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
