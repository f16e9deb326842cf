/**
 * Settings (SPEC §6): every one an environment variable and a flag, flags over environment
 * over defaults, and a bad value a one-line ConfigError naming it.
 */
import { describe, expect, it } from 'vitest';
import { connectionLimits, HelpRequested, loadConfig, sessionSettings, usage, type Config } from '../../src/config.js';
import { envName, settings } from '../../src/settings.js';
import { ConfigError } from '../../src/errors.js';

/** SPEC §6's table and §8's settings, transcribed: variable -> [flag, default as the Config holds it]. */
const specTable: Record<string, [flag: string, key: keyof Config, fallback: string | number | boolean | null]> = {
  PORT: ['--port', 'port', 8080],
  HOST: ['--host', 'host', '0.0.0.0'],
  LOG_LEVEL: ['--log-level', 'logLevel', 'info'],
  ECHO: ['--echo', 'echo', 'anonymous'],
  NAME_MAX_LENGTH: ['--name-max-length', 'nameMaxLength', 32],
  TEXT_MAX_LENGTH: ['--text-max-length', 'textMaxLength', 4096],
  REGISTER_TIMEOUT_MS: ['--register-timeout-ms', 'registerTimeoutMs', 10000],
  HEARTBEAT_MS: ['--heartbeat-ms', 'heartbeatMs', 30000],
  RATE_BURST: ['--rate-burst', 'rateBurst', 20],
  RATE_PER_SEC: ['--rate-per-sec', 'ratePerSec', 10],
  MAX_PAYLOAD_BYTES: ['--max-payload-bytes', 'maxPayloadBytes', 65536],
  MAX_BUFFERED_BYTES: ['--max-buffered-bytes', 'maxBufferedBytes', 1048576],
  MAX_CONNECTIONS: ['--max-connections', 'maxConnections', 10000],
  // SPEC §8 (sessions) names RESUME_WINDOW_MS and its default; the history bounds' names are ours.
  RESUME_WINDOW_MS: ['--resume-window-ms', 'resumeWindowMs', 30000],
  HISTORY_SIZE: ['--history-size', 'historySize', 100],
  HISTORY_BYTES: ['--history-bytes', 'historyBytes', 8388608],
  ALLOWED_ORIGINS: ['--allowed-origins', 'allowedOrigins', null],
  TRUST_PROXY: ['--trust-proxy', 'trustProxy', null],
  // Beyond SPEC §6 (issue 15); 0 keeps its stop as it says: close at once, exit within 5 s.
  DRAIN_MS: ['--drain-ms', 'drainMs', 0],
  // SPEC §5 asks for these per-address limits; their names and defaults are ours (README).
  ADDRESS_MAX_CONNECTIONS: ['--address-max-connections', 'addressMaxConnections', 256],
  ADDRESS_MAX_UNREGISTERED: ['--address-max-unregistered', 'addressMaxUnregistered', 64],
  ADDRESS_CONNECT_BURST: ['--address-connect-burst', 'addressConnectBurst', 200],
  ADDRESS_CONNECTS_PER_SEC: ['--address-connects-per-sec', 'addressConnectsPerSec', 20],
  ADDRESS_MAX_NAMES: ['--address-max-names', 'addressMaxNames', 128],
  ADDRESS_REGISTRATIONS_PER_MIN: ['--address-registrations-per-min', 'addressRegistrationsPerMin', 60],
  ADDRESS_RATE_BURST: ['--address-rate-burst', 'addressRateBurst', 60],
  ADDRESS_RATE_PER_SEC: ['--address-rate-per-sec', 'addressRatePerSec', 30],
  REDIS_URL: ['--redis-url', 'redisUrl', null],
  LEASE_MS: ['--lease-ms', 'leaseMs', 15000],
  // Beyond SPEC §6: the shared log's bounds in Redis (issue 14); their names and defaults are ours.
  LOG_MAX_BYTES: ['--log-max-bytes', 'logMaxBytes', 67108864],
  LOG_MAX_AGE_MS: ['--log-max-age-ms', 'logMaxAgeMs', 86400000],
  INSPECT: ['--inspect', 'inspect', false],
  INSPECT_PORT: ['--inspect-port', 'inspectPort', 8081],
  INSPECT_HOST: ['--inspect-host', 'inspectHost', '127.0.0.1'],
  INSPECT_PAGE: ['--inspect-page', 'inspectPage', false],
  // Beyond SPEC §6, which allows the /inspect page a token (issue 4).
  INSPECT_TOKEN: ['--inspect-token', 'inspectToken', null],
};

/** The ConfigError thrown by `run`, checked to be one line. */
function configError(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

describe('loadConfig defaults', () => {
  it('equals the table in SPEC §6, with §8 sessions', () => {
    const config = loadConfig([], {});
    const expected = Object.fromEntries(Object.values(specTable).map(([, key, fallback]) => [key, fallback]));
    expect(config).toEqual(expected);
  });

  it('has exactly the settings SPEC §6 and §8 name, with the documented env names and flags', () => {
    const actual = settings.map((s) => [envName(s.flag), `--${s.flag}`]).sort();
    const expected = Object.entries(specTable)
      .map(([env, [flag]]) => [env, flag])
      .sort();
    expect(actual).toEqual(expected);
  });

  it('does not read process.env unless given it', () => {
    expect(loadConfig([], { NOT_A_SETTING: '1' }).port).toBe(8080);
  });
});

describe('environment and flags', () => {
  it.each([
    [{ PORT: '9000' }, 'port', 9000],
    [{ HOST: '127.0.0.1' }, 'host', '127.0.0.1'],
    [{ LOG_LEVEL: 'debug' }, 'logLevel', 'debug'],
    [{ ECHO: 'named' }, 'echo', 'named'],
    [{ ECHO: 'OFF' }, 'echo', 'off'],
    [{ NAME_MAX_LENGTH: '16' }, 'nameMaxLength', 16],
    [{ TEXT_MAX_LENGTH: '100' }, 'textMaxLength', 100],
    [{ REGISTER_TIMEOUT_MS: '500' }, 'registerTimeoutMs', 500],
    [{ HEARTBEAT_MS: '1000' }, 'heartbeatMs', 1000],
    [{ RATE_BURST: '0' }, 'rateBurst', 0],
    [{ RATE_PER_SEC: '0' }, 'ratePerSec', 0],
    [
      { ALLOWED_ORIGINS: 'https://a.example, https://b.example' },
      'allowedOrigins',
      ['https://a.example', 'https://b.example'],
    ],
    [
      { ALLOWED_ORIGINS: 'https://Chat.Example/, http://localhost:80, https://b.example:8443' },
      'allowedOrigins',
      ['https://chat.example', 'http://localhost', 'https://b.example:8443'],
    ],
    [
      { ALLOWED_ORIGINS: 'capacitor://localhost/,chrome-extension://abcdefghijklmnop' },
      'allowedOrigins',
      ['capacitor://localhost', 'chrome-extension://abcdefghijklmnop'],
    ],
    [{ ALLOWED_ORIGINS: ' * ' }, 'allowedOrigins', '*'],
    [{ REDIS_URL: 'redis://127.0.0.1:6379' }, 'redisUrl', 'redis://127.0.0.1:6379'],
    [{ LEASE_MS: '5000' }, 'leaseMs', 5000],
    [{ RESUME_WINDOW_MS: '0' }, 'resumeWindowMs', 0],
    [{ HISTORY_SIZE: '0' }, 'historySize', 0],
    [{ HISTORY_SIZE: '1000000' }, 'historySize', 1000000],
    [{ HISTORY_BYTES: '0' }, 'historyBytes', 0],
    [{ TRUST_PROXY: '10.0.0.0/8, ::1' }, 'trustProxy', ['10.0.0.0/8', '::1/128']],
    [{ ADDRESS_MAX_CONNECTIONS: '0' }, 'addressMaxConnections', 0],
    [{ ADDRESS_REGISTRATIONS_PER_MIN: '5' }, 'addressRegistrationsPerMin', 5],
  ] as const)('reads %o', (env, key, value) => {
    expect(loadConfig([], env)[key]).toEqual(value);
  });

  it('reads a flag with its value in the next argument or after =', () => {
    expect(loadConfig(['--port', '9000']).port).toBe(9000);
    expect(loadConfig(['--port=9000']).port).toBe(9000);
    expect(loadConfig(['--echo=off', '--host', '::1']).echo).toBe('off');
  });

  it('reads every setting by its flag', () => {
    const config = loadConfig(['--name-max-length', '8', '--max-connections=3', '--inspect-host', '0.0.0.0']);
    expect(config).toMatchObject({ nameMaxLength: 8, maxConnections: 3, inspectHost: '0.0.0.0' });
  });

  it('lets a flag beat the environment', () => {
    expect(loadConfig(['--port', '9001'], { PORT: '9000' }).port).toBe(9001);
    expect(loadConfig(['--echo=named'], { ECHO: 'off' }).echo).toBe('named');
  });

  it('turns a switch on when it stands alone, even before another flag', () => {
    expect(loadConfig(['--inspect']).inspect).toBe(true);
    expect(loadConfig(['--inspect', '--port', '1']).inspect).toBe(true);
    expect(loadConfig(['--inspect-page']).inspectPage).toBe(true);
  });

  it('reads a switch given a value', () => {
    expect(loadConfig(['--inspect', 'false']).inspect).toBe(false);
    expect(loadConfig(['--inspect=0'], { INSPECT: '1' }).inspect).toBe(false);
  });

  it.each(['1', 'true', 'TRUE'])('turns a boolean on for INSPECT=%s', (value) => {
    expect(loadConfig([], { INSPECT: value }).inspect).toBe(true);
  });

  it.each(['0', 'false'])('leaves a boolean off for INSPECT=%s', (value) => {
    expect(loadConfig([], { INSPECT: value }).inspect).toBe(false);
  });
});

describe('bad values', () => {
  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '65536' }, 'PORT'],
    [{ PORT: '-1' }, 'PORT'],
    [{ PORT: '80.5' }, 'PORT'],
    [{ HOST: '  ' }, 'HOST'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ ECHO: 'sometimes' }, 'ECHO'],
    [{ NAME_MAX_LENGTH: '0' }, 'NAME_MAX_LENGTH'],
    [{ HEARTBEAT_MS: '' }, 'HEARTBEAT_MS'],
    [{ RATE_BURST: 'lots' }, 'RATE_BURST'],
    [{ REDIS_URL: 'http://127.0.0.1' }, 'REDIS_URL'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ LEASE_MS: '10' }, 'LEASE_MS'],
    [{ RESUME_WINDOW_MS: '-1' }, 'RESUME_WINDOW_MS'],
    [{ HISTORY_SIZE: '1000001' }, 'HISTORY_SIZE'],
    [{ HISTORY_BYTES: '8 MiB' }, 'HISTORY_BYTES'],
    [{ INSPECT: 'maybe' }, 'INSPECT'],
    [{ ALLOWED_ORIGINS: '' }, 'ALLOWED_ORIGINS'],
    [{ ALLOWED_ORIGINS: ' , ' }, 'ALLOWED_ORIGINS'],
    [{ ALLOWED_ORIGINS: 'chat.example.com' }, 'ALLOWED_ORIGINS'],
    [{ ALLOWED_ORIGINS: 'https://chat.example/app' }, 'ALLOWED_ORIGINS'],
    [{ ALLOWED_ORIGINS: 'https://a.example, null' }, 'ALLOWED_ORIGINS'],
    [{ ALLOWED_ORIGINS: 'capacitor://localhost/app' }, 'ALLOWED_ORIGINS'],
    [{ ALLOWED_ORIGINS: 'https://chat.example?' }, 'ALLOWED_ORIGINS'],
    [{ ALLOWED_ORIGINS: 'file:///tmp/x' }, 'ALLOWED_ORIGINS'],
    [{ ALLOWED_ORIGINS: 'https://*.example.com' }, 'ALLOWED_ORIGINS'],
    [{ TRUST_PROXY: '' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: 'proxy.internal' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY'],
    [{ ADDRESS_MAX_NAMES: '-1' }, 'ADDRESS_MAX_NAMES'],
    [{ ALLOWED_ORIGINS: '*, https://a.example' }, 'ALLOWED_ORIGINS'],
  ])('refuses %o in one line naming it', (env, name) => {
    const message = configError(() => loadConfig([], env));
    expect(message).toContain(name);
  });

  // Node runs a timer of more than 2^31 - 1 ms after 1 ms instead: HEARTBEAT_MS=2147483648
  // dropped every registered client within milliseconds of its welcome.
  it.each(['REGISTER_TIMEOUT_MS', 'HEARTBEAT_MS', 'LEASE_MS', 'RESUME_WINDOW_MS'])(
    'refuses a %s longer than a timer can wait',
    (name) => {
      expect(configError(() => loadConfig([], { [name]: '2147483648' }))).toContain(name);
      expect(configError(() => loadConfig([], { [name]: '9007199254740991' }))).toContain('2147483647');
    },
  );

  it.each([
    ['REGISTER_TIMEOUT_MS', 'registerTimeoutMs'],
    ['HEARTBEAT_MS', 'heartbeatMs'],
    ['LEASE_MS', 'leaseMs'],
    ['RESUME_WINDOW_MS', 'resumeWindowMs'],
  ] as const)('accepts the longest %s a timer can wait', (name, key) => {
    expect(loadConfig([], { [name]: '2147483647' })[key]).toBe(2147483647);
  });

  it('names the flag when the flag holds the bad value', () => {
    expect(configError(() => loadConfig(['--port', 'abc']))).toContain('--port');
    expect(configError(() => loadConfig(['--echo=loud']))).toContain('--echo');
  });

  it('refuses an unknown flag, naming it', () => {
    expect(configError(() => loadConfig(['--prot', '9000']))).toContain('--prot');
  });

  it('refuses a stray argument', () => {
    expect(configError(() => loadConfig(['9000']))).toContain('9000');
  });

  it('refuses a flag missing its value', () => {
    expect(configError(() => loadConfig(['--port']))).toContain('--port');
  });

  it('keeps a hostile value to one line', () => {
    configError(() => loadConfig([], { PORT: '1\n2\r\nFAKE LOG LINE' }));
  });

  // No host name or address holds white space; such a HOST used to reach listen(), whose
  // failure printed it raw: a line break in it split the one stderr line into several.
  it.each([
    [{ HOST: 'bad\nFAKE LOG LINE' }, 'HOST'],
    [{ HOST: 'local host' }, 'HOST'],
    [{ INSPECT_HOST: '127.0.0.1\r\nFAKE' }, 'INSPECT_HOST'],
  ])('refuses %o, a host with white space in it, naming it', (env, name) => {
    expect(configError(() => loadConfig([], env))).toContain(name);
  });
});

describe('help', () => {
  it.each([['--help'], ['-h'], ['--port', '1', '--help']])('%s throws HelpRequested', (...argv) => {
    expect(() => loadConfig(argv)).toThrow(HelpRequested);
  });

  it('usage() lists every flag and env name with its default', () => {
    const lines = usage().split('\n');
    for (const [env, [flag, , fallback]] of Object.entries(specTable)) {
      const line = lines.find((l) => l.trimStart().startsWith(`${flag} `));
      expect(line, flag).toBeDefined();
      expect(line).toContain(env);
      expect(line).toContain(`default ${fallback === null ? 'unset' : String(fallback)}`);
    }
  });
});

describe('connectionLimits', () => {
  it('carries the per-connection settings and the fixed limits of SPEC §2 and §5', () => {
    const limits = connectionLimits(loadConfig(['--rate-burst', '5'], { HEARTBEAT_MS: '100' }));
    expect(limits).toEqual({
      nameMaxLength: 32,
      textMaxLength: 4096,
      registerTimeoutMs: 10000,
      heartbeatMs: 100,
      rateBurst: 5,
      ratePerSec: 10,
      addressRateBurst: 60,
      addressRatePerSec: 30,
      maxRefusals: 5,
      maxBadFrames: 10,
    });
  });
});

describe('sessionSettings', () => {
  it('carries the session settings, with at most MAX_CONNECTIONS sessions waiting (SPEC §8)', () => {
    const config = loadConfig(['--max-connections', '7'], { RESUME_WINDOW_MS: '500', HISTORY_SIZE: '3' });
    expect(sessionSettings(config)).toEqual({
      resumeWindowMs: 500,
      maxWaiting: 7,
      historySize: 3,
      historyBytes: 8388608,
    });
  });
});
