/**
 * The hub's input for tests: predictable session ids and secrets, so that a test can
 * resume a session by the secret it knows will be issued, and no window unless asked.
 */
import type { HubInput, SessionKeys, SessionSettings } from '../../machines/hub.machine.js';
import type { OwnedActorOptions } from '../../machines/owned-actors.js';
import type { EchoMode } from '../../src/limits.js';
import type { AddressNameSettings } from '../../src/address-names.js';

export const TEST_EPOCH = 'test-epoch';

/**
 * Ids s1, s2…; secrets secret-1, secret-2…, each hashed as `hash:` + the secret. Hubs that
 * share a cluster need a `prefix` each: session ids and secrets are unique across a cluster.
 */
export function countingKeys(prefix = ''): SessionKeys {
  let ids = 0;
  let secrets = 0;
  return {
    newId: () => `${prefix}s${++ids}`,
    newSecret: () => {
      const secret = `${prefix}secret-${++secrets}`;
      return { secret, hash: `hash:${secret}` };
    },
    hash: (secret) => `hash:${secret}`,
  };
}

export const noSessions: SessionSettings = {
  resumeWindowMs: 0,
  maxWaiting: 10_000,
  historySize: 100,
  historyBytes: 8 * 1024 * 1024,
};

export function hubInput(
  options: {
    echo?: EchoMode;
    sessions?: Partial<SessionSettings>;
    now?: () => number;
    keyPrefix?: string;
    /** The hub's own clock and inspection, for its connection and session actors. */
    actors?: OwnedActorOptions;
    perAddress?: AddressNameSettings;
  } = {},
): HubInput {
  return {
    echo: options.echo ?? 'anonymous',
    epoch: TEST_EPOCH,
    sessions: { ...noSessions, ...options.sessions },
    keys: countingKeys(options.keyPrefix),
    now: options.now ?? (() => 0),
    actors: options.actors ?? {},
    ...(options.perAddress === undefined ? {} : { perAddress: options.perAddress }),
  };
}
