/**
 * Every per-client-address limit off (SPEC §5). For the tests and benches whose clients all
 * come from 127.0.0.1 and that are about something else: many connections, fast churn, or
 * floods with the per-connection rate limit off. At the defaults one address may hold 256
 * connections, claim 60 names a minute and send 30 messages a second in all.
 */
import type { Config } from '../../src/config.js';
import { envName, settings } from '../../src/settings.js';

export const addressLimitsOff = {
  addressMaxConnections: 0,
  addressMaxUnregistered: 0,
  addressConnectBurst: 0,
  addressConnectsPerSec: 0,
  addressMaxNames: 0,
  addressRegistrationsPerMin: 0,
  addressRateBurst: 0,
  addressRatePerSec: 0,
} as const satisfies Partial<Config>;

/** The same as environment variables, for a server in another process started through its environment. */
export const addressLimitsOffEnv: Record<string, string> = Object.fromEntries(
  settings.filter((s) => Object.hasOwn(addressLimitsOff, s.key)).map((s) => [envName(s.flag), '0']),
);
