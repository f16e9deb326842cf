/**
 * The node's lease, and the reaper that releases the names of nodes whose lease ran out.
 *
 *   every refreshMs (a third of LEASE_MS)  refresh chat:lease:NODE; failure => unavailable
 *   every reapMs (about a tenth of it)     find nodes without a lease; their sessions wait
 *                                          RESUME_WINDOW_MS for a resume from then (or their
 *                                          names are dropped with one leave each, without a
 *                                          window); announce sessions whose window is over,
 *                                          and ghosts once the grace after a data loss is over
 *
 * A dead node's users must be announced within LEASE_MS of its death. The lease key
 * therefore lives a little less than LEASE_MS (leaseTtlMs): what is left covers one reaper
 * round and the delivery.
 *
 * After an outage long enough that leases may have run out, a node waits a whole lease
 * before it reaps: the others need that long to renew theirs (node.ts decides).
 *
 * When Redis comes back empty, the leases of nodes that died meanwhile are lost with the
 * rest; their users are found instead as ghosts (node-scripts.ts), announced here.
 */
import type { Logger } from '../log.js';
import type { ClusterStore } from './store.js';

export interface ClusterTimings {
  leaseMs: number;
  /** How long a lease key lives after each renewal: LEASE_MS less one reaper round and a margin. */
  leaseTtlMs: number;
  /** Lease renewal: three chances before it runs out. */
  refreshMs: number;
  /** How often expired leases are looked for. */
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
  const reapMs = clamp(leaseMs / 10, 100, 500);
  return {
    leaseMs,
    leaseTtlMs: leaseMs - reapMs - clamp(leaseMs / 20, 50, 250),
    refreshMs: Math.floor(leaseMs / 3),
    reapMs,
    probeMs: clamp(leaseMs / 10, 100, 250),
    commandTimeoutMs: clamp(leaseMs / 2, 250, 2_000),
    goneTtlMs: Math.max(10 * leaseMs, 60_000),
  };
}

export interface LeaseHooks {
  /** The value of the node's lease, or null while the node is not available. */
  lease(): string | null;
  /** Whether the node has been available for at least a lease (so it may reap). */
  mayReap(): boolean;
  /** A command failed, or the lease is gone: the node must recover. */
  lost(reason: string, err?: unknown): void;
  /** RESUME_WINDOW_MS: how long a dead node's sessions wait for a resume before their leaves. */
  readonly resumeWindowMs: number;
}

export class LeaseKeeper {
  private refreshTimer: NodeJS.Timeout | null = null;
  private reapTimer: NodeJS.Timeout | null = null;
  private reaping = false;

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
    this.refreshTimer = this.reapTimer = null;
  }

  private async refresh(): Promise<void> {
    const lease = this.hooks.lease();
    if (lease === null) return;
    try {
      if (!(await this.store.refresh(lease))) this.hooks.lost('lease gone');
    } catch (err) {
      this.hooks.lost('lease refresh failed', err);
    }
  }

  private async reap(): Promise<void> {
    if (this.reaping || this.hooks.lease() === null) return;
    this.reaping = true;
    try {
      const { dead, ghosts } = await this.store.deadNodes();
      // Ghosts wait for the grace, which Redis times; any node may announce them.
      if (ghosts) {
        const leaves = await this.store.sweepGhosts();
        if (leaves !== null && leaves > 0) this.log.info({ leaves }, 'announced the users of nodes lost with the data');
      }
      // Sessions whose window is over, lost here or on a node that is gone: any node may announce them.
      const expired = await this.store.sweepWaiting();
      if (expired > 0) this.log.info({ leaves: expired }, 'announced sessions nobody resumed in time');
      if (!this.hooks.mayReap()) return;
      for (const node of dead) {
        const leaves = await this.store.dropNode(node, true, this.hooks.resumeWindowMs);
        if (leaves !== null) this.log.info({ deadNode: node, leaves }, 'reaped a node whose lease ran out');
      }
    } catch (err) {
      this.hooks.lost('reaping failed', err);
    } finally {
      this.reaping = false;
    }
  }
}
