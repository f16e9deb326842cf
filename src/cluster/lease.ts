/**
 * The node's lease, and the reaper that releases the names of nodes whose lease ran out.
 *
 *   every refreshMs (a third of LEASE_MS)  refresh chat:lease:NODE; failure => unavailable
 *   every reapMs (about a tenth of it)     find nodes without a lease; drop their names,
 *                                          announcing one leave per joined name
 *
 * A node reaps only after it has itself been available for a whole lease: after an outage
 * every lease may have run out at once, and the others need that long to renew theirs.
 *
 * When Redis comes back empty, the leases of nodes that died meanwhile are lost with the
 * rest; their users are found instead as names the roster shows that nobody re-asserted
 * during the grace (`reapGhostsAfter`).
 */
import type { Logger } from '../log.js';
import type { Holder } from './event-log.js';
import type { ClusterStore } from './store.js';

export interface ClusterTimings {
  leaseMs: number;
  /** Lease renewal: three chances before it runs out. */
  refreshMs: number;
  /** How often expired leases are looked for; a dead node's users leave within LEASE_MS + this. */
  reapMs: number;
  /** How often an unavailable node tries to recover. */
  probeMs: number;
  /** A Redis command without a reply after this long counts as an outage. */
  commandTimeoutMs: number;
  /** How long "this leave was announced" is remembered. */
  goneTtlMs: number;
}

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, Math.round(value)));

export function clusterTimings(leaseMs: number): ClusterTimings {
  return {
    leaseMs,
    refreshMs: Math.floor(leaseMs / 3),
    reapMs: clamp(leaseMs / 10, 100, 500),
    probeMs: clamp(leaseMs / 10, 100, 250),
    commandTimeoutMs: clamp(leaseMs / 2, 250, 2_000),
    goneTtlMs: Math.max(10 * leaseMs, 60_000),
  };
}

export interface LeaseHooks {
  /** The epoch the lease belongs to, or null while the node is not available. */
  epoch(): string | null;
  /** Whether the node has been available for at least a lease (so it may reap). */
  mayReap(): boolean;
  /** A command failed, or the lease is gone: the node must recover. */
  lost(reason: string, err?: unknown): void;
}

export class LeaseKeeper {
  private refreshTimer: NodeJS.Timeout | null = null;
  private reapTimer: NodeJS.Timeout | null = null;
  private reaping = false;
  private ghostTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: ClusterStore,
    private readonly timings: ClusterTimings,
    private readonly hooks: LeaseHooks,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.refreshTimer = setInterval(() => void this.refresh(), this.timings.refreshMs).unref();
    this.reapTimer = setInterval(() => void this.reap(), this.timings.reapMs).unref();
  }

  stop(): void {
    if (this.refreshTimer !== null) clearInterval(this.refreshTimer);
    if (this.reapTimer !== null) clearInterval(this.reapTimer);
    if (this.ghostTimer !== null) clearTimeout(this.ghostTimer);
    this.refreshTimer = this.reapTimer = this.ghostTimer = null;
  }

  /**
   * After Redis lost its data: once every live node has had `graceMs` to re-assert its
   * names, announces the leave of each name in `roster` that nobody re-asserted. Every node
   * that saw the loss does this; a gone marker lets only the first write each leave.
   */
  reapGhostsAfter(graceMs: number, roster: () => ReadonlyMap<string, Holder>): void {
    if (this.ghostTimer !== null) clearTimeout(this.ghostTimer);
    this.ghostTimer = setTimeout(() => void this.reapGhosts(roster), graceMs).unref();
  }

  private async reapGhosts(roster: () => ReadonlyMap<string, Holder>): Promise<void> {
    this.ghostTimer = null;
    if (this.hooks.epoch() !== null) {
      try {
        let leaves = 0;
        for (const [folded, holder] of [...roster()]) if (await this.store.ghost({ folded, ...holder })) leaves++;
        if (leaves > 0) this.log.info({ leaves }, 'announced the users of nodes lost with the data');
        return;
      } catch (err) {
        this.hooks.lost('ghost check failed', err);
      }
    }
    this.ghostTimer = setTimeout(() => void this.reapGhosts(roster), this.timings.probeMs).unref();
  }

  private async refresh(): Promise<void> {
    const epoch = this.hooks.epoch();
    if (epoch === null) return;
    try {
      if (!(await this.store.refresh(epoch))) this.hooks.lost('lease gone');
    } catch (err) {
      this.hooks.lost('lease refresh failed', err);
    }
  }

  private async reap(): Promise<void> {
    if (this.reaping || !this.hooks.mayReap()) return;
    this.reaping = true;
    try {
      for (const node of await this.store.deadNodes()) {
        const leaves = await this.store.dropNode(node, true);
        if (leaves !== null) this.log.info({ node, leaves }, 'reaped a node whose lease ran out');
      }
    } catch (err) {
      this.hooks.lost('reaping failed', err);
    } finally {
      this.reaping = false;
    }
  }
}
