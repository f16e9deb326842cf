/**
 * Cluster timings derived from LEASE_MS (src/cluster/lease.ts): a lease is renewed well
 * inside its life, and its key expires early enough that a reaper round still fits, so a
 * dead node's users' leaves come within LEASE_MS (SPEC §7).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clusterTimings } from '../../src/cluster/lease.js';

describe('clusterTimings', () => {
  it('renews a lease three times in its life, and reaps a dead node within LEASE_MS', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1_000, max: 3_600_000 }), (leaseMs) => {
        const t = clusterTimings(leaseMs);
        expect(t.refreshMs * 3).toBeLessThanOrEqual(leaseMs);
        expect(t.refreshMs).toBeGreaterThan(0);
        expect(t.reapMs).toBeLessThanOrEqual(500);
        expect(t.probeMs).toBeLessThanOrEqual(250);
        // A renewal that times out must fail before the lease key runs out.
        expect(t.refreshMs + t.commandTimeoutMs).toBeLessThan(t.leaseTtlMs);
        // Key expiry, then at most one reaper round, leaves at least 50 ms for the delivery.
        expect(t.leaseTtlMs + t.reapMs + 50).toBeLessThanOrEqual(leaseMs);
        expect(t.goneTtlMs).toBeGreaterThanOrEqual(10 * leaseMs);
      }),
    );
  });

  it('uses the defaults SPEC §7 implies for a 15 s lease', () => {
    expect(clusterTimings(15_000)).toEqual({
      leaseMs: 15_000,
      leaseTtlMs: 14_250,
      refreshMs: 5_000,
      reapMs: 500,
      probeMs: 250,
      commandTimeoutMs: 2_000,
      goneTtlMs: 150_000,
    });
  });
});
