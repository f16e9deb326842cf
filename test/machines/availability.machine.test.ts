/**
 * A cluster node's availability machine alone: no Redis, a simulated clock, and a fake
 * recovery whose every attempt the test settles by hand. The real outages, with Redis
 * processes, are test/cluster/*.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { isServing, whenAvailable } from '../../src/cluster/availability.machine.js';
import { flush, kept, PROBE_MS, startNode } from '../support/availability-harness.js';

describe('joining', () => {
  it('waits in connecting until both connections are up, then recovers and serves', async () => {
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
    expect(node.state()).toBe('available');
    expect(isServing(node.actor.getSnapshot())).toBe(true);
    expect(node.emitted).toEqual([{ type: 'recovered', rejoining: false, graceLeftMs: 0, hadLease: false }]);
  });

  it('closes and reports the error when the first recovery fails: start() throws it', async () => {
    const node = startNode();
    node.actor.send({ type: 'redis.ready' });
    const error = new Error('NOAUTH');
    await node.lastAttempt().fail(error);
    expect(node.state()).toBe('closed');
    expect(node.actor.getSnapshot().status).toBe('done');
    expect(node.emitted).toEqual([{ type: 'recoveryFailed', rejoining: false, error }]);
    // No retry: a node that never joined has nothing to come back to.
    node.clock.increment(10 * PROBE_MS);
    expect(node.attempts).toHaveLength(1);
  });

  it('ignores a loss before it has joined: the join itself fails or succeeds', async () => {
    const node = startNode();
    node.actor.send({ type: 'redis.lost', reason: 'redis connection closed' });
    expect(node.state()).toBe('connecting');
    node.actor.send({ type: 'redis.ready' });
    node.actor.send({ type: 'redis.lost', reason: 'redis connection closed' });
    expect(node.state()).toBe('recovering');
    await node.lastAttempt().succeed();
    expect(node.state()).toBe('available');
    expect(node.emitted.map((e) => e.type)).toEqual(['recovered']);
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
    node.actor.send({ type: 'redis.ready' });
    await node.lastAttempt().succeed({ graceLeftMs: 0, hadLease: false });
    expect(isServing(node.actor.getSnapshot())).toBe(true);
    node.clock.increment(10_000);
    expect(node.emitted.map((e) => e.type)).toEqual(['recovered']);
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
    'available (serving)': async (node) => {
      node.actor.send({ type: 'redis.ready' });
      await node.lastAttempt().succeed();
    },
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
    expect(node.emitted.map((e) => e.type)).toEqual(['recovered', 'unavailable']);
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
