/**
 * A cluster node's availability machine alone: no Redis, a simulated clock, and a fake
 * recovery whose every attempt the test settles by hand. The real outages, with Redis
 * processes, are test/cluster/*.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  isServing,
  mayReadLog,
  startOutcome,
  whenAvailable,
  whenLogReadable,
} from '../../src/cluster/availability.machine.js';
import { flush, kept, PROBE_MS, startNode } from '../support/availability-harness.js';

describe('joining', () => {
  it('waits in connecting until both connections are up, recovers, takes the roster, then serves and says it joined', async () => {
    const node = startNode();
    node.setConnected(false);
    node.actor.send({ type: 'redis.ready' });
    expect(node.state()).toBe('connecting');
    expect(node.attempts).toHaveLength(0);

    node.setConnected(true);
    node.actor.send({ type: 'redis.ready' });
    expect(node.state()).toBe('recovering');
    expect(node.attempts).toHaveLength(1);
    await node.lastAttempt().succeed({ graceLeftMs: 0, hadLease: false });
    expect(node.actor.getSnapshot().matches({ available: 'roster' })).toBe(true);
    expect(mayReadLog(node.actor.getSnapshot())).toBe(true);
    expect(isServing(node.actor.getSnapshot())).toBe(false);

    node.actor.send({ type: 'roster.delivered' });
    expect(isServing(node.actor.getSnapshot())).toBe(true);
    expect(node.emitted).toEqual([
      { type: 'recovered', rejoining: false, graceLeftMs: 0, hadLease: false },
      { type: 'joined' },
    ]);
  });

  it('reads no log during the grace of its first join, and serves only once the roster is in after it', async () => {
    const node = startNode();
    node.actor.send({ type: 'redis.ready' });
    await node.lastAttempt().succeed({ graceLeftMs: 1_000, hadLease: false });
    expect(node.actor.getSnapshot().matches({ available: 'grace' })).toBe(true);
    expect(mayReadLog(node.actor.getSnapshot())).toBe(false);
    let readable = false;
    void whenLogReadable(node.actor).then(() => (readable = true));
    node.clock.increment(999);
    await flush();
    expect(readable).toBe(false);

    node.clock.increment(1);
    await flush();
    expect(readable).toBe(true);
    expect(node.actor.getSnapshot().matches({ available: 'roster' })).toBe(true);
    expect(isServing(node.actor.getSnapshot())).toBe(false);
    node.actor.send({ type: 'roster.delivered' });
    expect(isServing(node.actor.getSnapshot())).toBe(true);
    expect(node.emitted.map((e) => e.type)).toEqual(['recovered', 'graceOver', 'joined']);
  });

  it('reads the log through a grace once it has joined (Redis came back empty after an outage)', async () => {
    const node = startNode();
    await node.joinThenLose();
    node.actor.send({ type: 'redis.ready' });
    await node.lastAttempt().succeed({ graceLeftMs: 1_000, hadLease: false });
    expect(node.actor.getSnapshot().matches({ available: 'grace' })).toBe(true);
    expect(mayReadLog(node.actor.getSnapshot())).toBe(true);
  });

  it('counts a roster delivered after an outage began: back, it serves at once, and says it joined once', async () => {
    const node = startNode();
    node.actor.send({ type: 'redis.ready' });
    await node.lastAttempt().succeed();
    node.actor.send({ type: 'redis.lost', reason: 'redis connection closed' });
    node.actor.send({ type: 'roster.delivered' }); // the snapshot was answered before the loss
    expect(node.state()).toBe('unavailable');
    node.actor.send({ type: 'redis.ready' });
    await node.lastAttempt().succeed();
    expect(isServing(node.actor.getSnapshot())).toBe(true);
    node.actor.send({ type: 'roster.delivered' });
    expect(node.emitted.filter((e) => e.type === 'joined')).toHaveLength(1);
  });

  it('ignores a loss while its first recovery runs: the recovery itself fails or succeeds', async () => {
    const node = startNode();
    node.actor.send({ type: 'redis.ready' });
    node.actor.send({ type: 'redis.lost', reason: 'redis connection closed' });
    expect(node.state()).toBe('recovering');
    await node.lastAttempt().succeed();
    expect(node.state()).toBe('available');
    expect(node.emitted.map((e) => e.type)).toEqual(['recovered']);
  });
});

describe('starting while Redis is out of reach', () => {
  const refused = new Error('connect ECONNREFUSED 127.0.0.1:6390');

  it('says once that it waits, probes every probeMs, and joins when Redis answers, with no restart', async () => {
    const node = startNode();
    const outcome = startOutcome(node.actor);
    node.setConnected(false);
    node.actor.send({ type: 'redis.error', err: refused });
    expect(node.state()).toBe('unavailable');
    expect(await outcome).toBe('waiting');
    expect(node.emitted).toEqual([{ type: 'waiting', reason: 'redis unreachable', err: refused }]);

    // ioredis keeps reconnecting and failing; the machine keeps looking.
    for (let probe = 0; probe < 5; probe++) {
      node.actor.send({ type: 'redis.error', err: refused });
      node.actor.send({ type: 'redis.lost', reason: 'redis connection closed' });
      node.clock.increment(PROBE_MS);
      expect(node.state()).toBe('unavailable');
    }
    expect(node.attempts).toHaveLength(0);
    expect(node.emitted).toHaveLength(1);

    node.setConnected(true);
    node.clock.increment(PROBE_MS - 1);
    expect(node.state()).toBe('unavailable');
    node.clock.increment(1);
    expect(node.state()).toBe('recovering');
    await node.lastAttempt().succeed();
    node.actor.send({ type: 'roster.delivered' });
    expect(isServing(node.actor.getSnapshot())).toBe(true);
    expect(node.emitted.map((e) => e.type)).toEqual(['waiting', 'recovered', 'joined']);
    expect(node.emitted[1]).toMatchObject({ rejoining: false });
  });

  it('recovers at once when the connections report ready while it waits', () => {
    const node = startNode();
    node.actor.send({ type: 'redis.error', err: refused });
    node.actor.send({ type: 'redis.ready' });
    expect(node.state()).toBe('recovering');
  });

  it('waits as well when a connection closes before it is up', () => {
    const node = startNode();
    node.actor.send({ type: 'redis.lost', reason: 'redis connection closed' });
    expect(node.state()).toBe('unavailable');
    expect(node.emitted).toEqual([{ type: 'waiting', reason: 'redis connection closed', err: undefined }]);
  });

  it('waits when Redis answers but cannot be joined (a timeout), says so once, and retries every probeMs', async () => {
    const node = startNode();
    const outcome = startOutcome(node.actor);
    node.actor.send({ type: 'redis.ready' });
    const timeout = new Error('Command timed out');
    await node.lastAttempt().fail(timeout);
    expect(node.state()).toBe('unavailable');
    expect(await outcome).toBe('waiting');
    expect(node.emitted).toEqual([{ type: 'waiting', reason: 'joining failed', err: timeout }]);

    node.clock.increment(PROBE_MS);
    expect(node.attempts).toHaveLength(2);
    const again = new Error('LOADING Redis is loading the dataset in memory');
    await node.lastAttempt().fail(again);
    expect(node.state()).toBe('unavailable');
    expect(node.emitted.slice(1)).toEqual([{ type: 'recoveryFailed', rejoining: false, error: again }]);
    node.clock.increment(PROBE_MS);
    await node.lastAttempt().succeed();
    expect(node.state()).toBe('available');
  });

  it('ends a start that serves as serving', async () => {
    const node = startNode();
    const outcome = startOutcome(node.actor);
    await node.join();
    expect(await outcome).toBe('serving');
  });
});

describe('Redis refusing the node', () => {
  const wrongPassword = new Error('WRONGPASS invalid username-password pair or user is disabled.');
  const wrongType = new Error('WRONGTYPE Operation against a key holding the wrong kind of value');

  const before: Record<string, (node: ReturnType<typeof startNode>) => Error | Promise<Error>> = {
    'while connecting': (node) => {
      node.actor.send({ type: 'redis.error', err: wrongPassword });
      return wrongPassword;
    },
    'in its first recovery': async (node) => {
      node.actor.send({ type: 'redis.ready' });
      await node.lastAttempt().fail(wrongType);
      return wrongType;
    },
    'after waiting for Redis': (node) => {
      node.setConnected(false);
      node.actor.send({ type: 'redis.error', err: new Error('connect ECONNREFUSED 127.0.0.1:6390') });
      node.clock.increment(3 * PROBE_MS);
      node.actor.send({ type: 'redis.error', err: wrongPassword });
      return wrongPassword;
    },
  };

  it.each(Object.keys(before))('closes when refused before it has joined, %s, and tries no more', async (when) => {
    const node = startNode();
    const outcome = startOutcome(node.actor);
    const error = await before[when]!(node);
    expect(node.state()).toBe('closed');
    expect(node.actor.getSnapshot().status).toBe('done');
    expect(node.emitted.at(-1)).toEqual({ type: 'refused', error });
    expect(await outcome).toBe('closed');
    const attempts = node.attempts.length;
    node.clock.increment(10 * PROBE_MS);
    expect(node.attempts).toHaveLength(attempts);
  });

  it('rides out a refusal once it has joined, as any outage: it keeps probing', async () => {
    const node = startNode();
    await node.joinThenLose();
    node.actor.send({ type: 'redis.error', err: wrongPassword });
    expect(node.state()).toBe('unavailable');
    node.clock.increment(PROBE_MS);
    await node.lastAttempt().fail(wrongType);
    expect(node.state()).toBe('unavailable');
    expect(node.emitted.at(-1)).toEqual({ type: 'recoveryFailed', rejoining: true, error: wrongType });
    node.clock.increment(PROBE_MS);
    await node.lastAttempt().succeed();
    expect(isServing(node.actor.getSnapshot())).toBe(true);
  });

  it('takes any other error for trouble that passes', () => {
    const node = startNode();
    node.actor.send({ type: 'redis.error', err: new Error('ERR max number of clients reached') });
    expect(node.state()).toBe('unavailable');
    node.actor.send({ type: 'redis.error', err: new Error('OOM command not allowed when used memory > maxmemory') });
    expect(node.state()).toBe('unavailable');
  });
});

describe('an outage', () => {
  it('goes unavailable on a loss, probes after probeMs, recovers and serves again', async () => {
    const node = startNode();
    await node.joinThenLose();
    expect(node.emitted.at(-1)).toEqual({ type: 'unavailable', reason: 'claim failed', err: new Error('timeout') });
    expect(isServing(node.actor.getSnapshot())).toBe(false);

    node.clock.increment(PROBE_MS - 1);
    expect(node.state()).toBe('unavailable');
    expect(node.attempts).toHaveLength(1);
    node.clock.increment(1);
    expect(node.state()).toBe('recovering');
    expect(node.attempts).toHaveLength(2);
    await node.lastAttempt().succeed();
    expect(node.state()).toBe('available');
    expect(node.emitted.at(-1)).toEqual({ type: 'recovered', rejoining: true, ...kept });
  });

  it('announces a loss once: further losses while unavailable or recovering change nothing', async () => {
    const node = startNode();
    await node.joinThenLose();
    node.actor.send({ type: 'redis.lost', reason: 'leave failed' });
    node.clock.increment(PROBE_MS);
    node.actor.send({ type: 'redis.lost', reason: 'reading the log failed' });
    expect(node.state()).toBe('recovering');
    expect(node.emitted.filter((e) => e.type === 'unavailable')).toHaveLength(1);
  });

  it('keeps probing every probeMs while recovery fails', async () => {
    const node = startNode();
    await node.joinThenLose();
    for (let attempt = 2; attempt <= 4; attempt++) {
      node.clock.increment(PROBE_MS - 1);
      expect(node.attempts).toHaveLength(attempt - 1);
      node.clock.increment(1);
      expect(node.attempts).toHaveLength(attempt);
      const error = new Error(`attempt ${attempt}`);
      await node.lastAttempt().fail(error);
      expect(node.state()).toBe('unavailable');
      expect(node.emitted.at(-1)).toEqual({ type: 'recoveryFailed', rejoining: true, error });
    }
    node.clock.increment(PROBE_MS);
    await node.lastAttempt().succeed();
    expect(node.state()).toBe('available');
  });

  it('keeps probing every probeMs while the connections are down, and recovers once they are up', async () => {
    const node = startNode();
    await node.joinThenLose();
    node.setConnected(false);
    node.clock.increment(3 * PROBE_MS);
    expect(node.state()).toBe('unavailable');
    expect(node.attempts).toHaveLength(1);
    node.setConnected(true);
    node.clock.increment(PROBE_MS);
    expect(node.state()).toBe('recovering');
  });

  it('recovers at once when a connection reports ready, without waiting for the probe', async () => {
    const node = startNode();
    await node.joinThenLose();
    node.actor.send({ type: 'redis.ready' });
    expect(node.state()).toBe('recovering');
    expect(node.attempts).toHaveLength(2);
    // The probe does not start a second recovery meanwhile, nor does another ready.
    node.clock.increment(2 * PROBE_MS);
    node.actor.send({ type: 'redis.ready' });
    expect(node.attempts).toHaveLength(2);
    await node.lastAttempt().succeed();
    expect(node.state()).toBe('available');
  });

  it('does not recover on a ready while one connection is still down', async () => {
    const node = startNode();
    await node.joinThenLose();
    node.setConnected(false);
    node.actor.send({ type: 'redis.ready' });
    expect(node.state()).toBe('unavailable');
    expect(node.attempts).toHaveLength(1);
  });
});

describe('the grace after Redis came back empty', () => {
  it('refuses claims until the grace Redis reported is over, then serves and says so', async () => {
    const node = startNode();
    await node.joinThenLose();
    node.actor.send({ type: 'redis.ready' });
    await node.lastAttempt().succeed({ graceLeftMs: 1_000, hadLease: false });
    expect(node.state()).toBe('available');
    expect(node.actor.getSnapshot().matches({ available: 'grace' })).toBe(true);
    expect(isServing(node.actor.getSnapshot())).toBe(false);
    expect(node.emitted.at(-1)).toEqual({ type: 'recovered', rejoining: true, graceLeftMs: 1_000, hadLease: false });

    node.clock.increment(999);
    expect(isServing(node.actor.getSnapshot())).toBe(false);
    node.clock.increment(1);
    expect(isServing(node.actor.getSnapshot())).toBe(true);
    expect(node.emitted.at(-1)).toEqual({ type: 'graceOver', rejoining: true });
  });

  it('has no grace to end when none is left', async () => {
    const node = startNode();
    await node.join({ graceLeftMs: 0, hadLease: false });
    expect(isServing(node.actor.getSnapshot())).toBe(true);
    node.clock.increment(10_000);
    expect(node.emitted.map((e) => e.type)).toEqual(['recovered', 'joined']);
  });

  it('never reports the end of a grace during which the node was lost', async () => {
    const node = startNode();
    node.actor.send({ type: 'redis.ready' });
    await node.lastAttempt().succeed({ graceLeftMs: 1_000, hadLease: false });
    node.actor.send({ type: 'redis.lost', reason: 'lease gone' });
    node.clock.increment(2_000);
    expect(node.emitted.map((e) => e.type)).toEqual(['recovered', 'unavailable']);
  });
});

describe('closing', () => {
  const reach: Record<string, (node: ReturnType<typeof startNode>) => Promise<void> | void> = {
    connecting: () => {},
    recovering: (node) => node.actor.send({ type: 'redis.ready' }),
    'available (grace)': async (node) => {
      node.actor.send({ type: 'redis.ready' });
      await node.lastAttempt().succeed({ graceLeftMs: 1_000, hadLease: false });
    },
    'available (roster)': async (node) => {
      node.actor.send({ type: 'redis.ready' });
      await node.lastAttempt().succeed();
    },
    'available (serving)': (node) => node.join(),
    'unavailable (waiting to join)': (node) => node.actor.send({ type: 'redis.error', err: new Error('ECONNREFUSED') }),
    unavailable: (node) => node.joinThenLose(),
  };

  it.each(Object.keys(reach))('closes from %s, and nothing happens after', async (from) => {
    const node = startNode();
    await reach[from]!(node);
    node.actor.send({ type: 'close' });
    expect(node.state()).toBe('closed');
    expect(node.actor.getSnapshot().status).toBe('done');
    const told = node.emitted.length;
    node.clock.increment(10_000);
    expect(node.emitted).toHaveLength(told);
  });

  it('stays closed when a recovery still running finishes after the close', async () => {
    const node = startNode();
    await node.joinThenLose();
    node.actor.send({ type: 'redis.ready' });
    node.actor.send({ type: 'close' });
    await node.lastAttempt().succeed();
    expect(node.state()).toBe('closed');
    expect(node.emitted.map((e) => e.type)).toEqual(['recovered', 'joined', 'unavailable']);
  });
});

describe('waiting for the node', () => {
  it('resolves waiters once the node is available, not before', async () => {
    const node = startNode();
    let resolved = 0;
    for (let i = 0; i < 3; i++) void whenAvailable(node.actor).then(() => resolved++);
    node.actor.send({ type: 'redis.ready' });
    await flush();
    expect(resolved).toBe(0);
    await node.lastAttempt().succeed({ graceLeftMs: 1_000, hadLease: false });
    // A grace running does not hold the log reader back: only claims wait for it.
    expect(resolved).toBe(3);
  });

  it('resolves at once when available, and waits again through an outage', async () => {
    const node = startNode();
    node.actor.send({ type: 'redis.ready' });
    await node.lastAttempt().succeed();
    let first = false;
    await whenAvailable(node.actor).then(() => (first = true));
    expect(first).toBe(true);

    node.actor.send({ type: 'redis.lost', reason: 'lease gone' });
    let second = false;
    void whenAvailable(node.actor).then(() => (second = true));
    node.clock.increment(PROBE_MS);
    await flush();
    expect(second).toBe(false);
    await node.lastAttempt().succeed();
    expect(second).toBe(true);
  });

  it('resolves waiters when the node closes instead, and at once after it closed', async () => {
    const node = startNode();
    let resolved = false;
    void whenAvailable(node.actor).then(() => (resolved = true));
    await flush();
    expect(resolved).toBe(false);
    node.actor.send({ type: 'close' });
    await flush();
    expect(resolved).toBe(true);
    await whenAvailable(node.actor); // would hang (and time out) if it waited for an available that never comes
  });
});
