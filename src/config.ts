/**
 * Reads the Config from flags over environment variables over the defaults in the settings
 * table (src/settings.ts), and prints `--help`. A bad value throws a ConfigError whose
 * message is one line naming it.
 */
import { ConfigError } from './errors.js';
import { fixedLimits, type ConnectionLimits } from './limits.js';
import type { SessionSettings } from '../machines/hub.machine.js';
import type { AddressLimitSettings } from './address-limits.js';
import type { AddressNameSettings } from './address-names.js';
import { envName, settings, type Config } from './settings.js';

/** Re-exported: the rest of the server knows the Config by the module that loads it. */
export type { Config } from './settings.js';

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
    '       chat-backend connect <ws://host:port/ws> --name <name>   (the terminal client; connect --help)',
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
    addressRateBurst: config.addressRateBurst,
    addressRatePerSec: config.addressRatePerSec,
    ...fixedLimits,
  };
}

/** What admission counts per client address (src/address-limits.ts). */
export function addressLimitSettings(config: Config): AddressLimitSettings {
  return {
    maxConnections: config.addressMaxConnections,
    maxUnregistered: config.addressMaxUnregistered,
    connectBurst: config.addressConnectBurst,
    connectsPerSec: config.addressConnectsPerSec,
    rateBurst: config.addressRateBurst,
    ratePerSec: config.addressRatePerSec,
  };
}

/** What the hub counts per client address (src/address-names.ts). */
export function addressNameSettings(config: Config): AddressNameSettings {
  return { maxNames: config.addressMaxNames, registrationsPerMin: config.addressRegistrationsPerMin };
}

/** What the hub needs to keep sessions and history. Sessions waiting at most: MAX_CONNECTIONS. */
export function sessionSettings(config: Config): SessionSettings {
  return {
    resumeWindowMs: config.resumeWindowMs,
    maxWaiting: config.maxConnections,
    historySize: config.historySize,
    historyBytes: config.historyBytes,
  };
}
