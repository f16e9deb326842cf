/**
 * How a node (re)joins the cluster, at start and after every outage: it tells Redis which
 * names its clients hold, lets go of the ones it lost, and writes the joins it owes.
 *
 * When Redis lost its data (a new epoch) and the grace is still running, the node also
 * records the names its roster shows as ghost candidates; those nobody re-asserts within
 * the grace belonged to nodes that died meanwhile and are announced as gone (lease.ts).
 * A node that comes back after the grace gets none of its names back, and reads the
 * roster afresh: the others have announced its users already.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import { foldName } from '../protocol.js';
import type { EventLog } from './event-log.js';
import type { ClusterTimings } from './lease.js';
import type { ClusterStore, HeldName } from './store.js';

/** The node's side of its clients' names, as recovery needs it. */
export interface HeldNames {
  /** conn -> the name (as shown) and its session, for every name held here and not given back. */
  readonly held: ReadonlyMap<string, { name: string; session: string; hash: string }>;
  /** Conns whose join could not be written yet. */
  readonly owedJoins: Set<string>;
  /** Conns whose connection was lost: their sessions wait for a resume. */
  readonly detached: ReadonlySet<string>;
  /** The name is no longer this client's: forget it and have the hub close the client. */
  revoke(conn: string): void;
  /** Writes the join of a held name; false when the node's lease is gone. */
  writeJoin(conn: string): Promise<boolean>;
}

export interface Recovered {
  /** How long claims must wait for every live node to re-assert its names (ms). */
  graceLeftMs: number;
  /** The node's lease survived the outage: Redis kept its data and nobody reaped this node. */
  hadLease: boolean;
}

/**
 * How long after (re)joining a node must wait before it reaps other nodes. A whole lease
 * when their leases may have run out meanwhile and they need that long to renew: at start
 * (`outageMs` null: this node cannot know), and after an outage long enough that this
 * node's own lease could have run out. After a shorter blip the others' leases are as
 * alive as this one's: waiting would only delay a dead node's leaves past the lease (docs/cluster.md).
 */
export function reapDelayMs(outageMs: number | null, hadLease: boolean, timings: ClusterTimings): number {
  const leasesMayHaveLapsed = outageMs === null || !hadLease || outageMs > timings.refreshMs;
  return leasesMayHaveLapsed ? timings.leaseMs : 0;
}

export class Recovery {
  private epoch = '';
  private lease = '';
  /** The held names changed while recovery ran: it runs again before the node serves. */
  private heldChanged = false;

  constructor(
    private readonly store: ClusterStore,
    private readonly events: EventLog,
    private readonly names: HeldNames,
    private readonly log: Logger,
  ) {}

  /** The epoch Redis last gave ('' before the first recovery). */
  get currentEpoch(): string {
    return this.epoch;
  }

  /** The value of the lease this node last took ('' before the first time): its claims and renewals show it. */
  get currentLease(): string {
    return this.lease;
  }

  /** Called while recovery may be running: a name was given back, so do it again. */
  heldNamesChanged(): void {
    this.heldChanged = true;
  }

  /** Re-asserts the names held here, then writes owed joins. Throws if Redis fails meanwhile. */
  async run(): Promise<Recovered> {
    let recovered: Recovered;
    // A later pass finds the lease the first one took: whether it survived the outage is the first pass's answer.
    let hadLease: boolean | undefined;
    // Until the node is available again, a name given back (a client that left) is freed,
    // and its leave announced, by nothing but the next reassert: so one follows every
    // change, also one made while the owed joins were being written.
    do {
      this.heldChanged = false;
      recovered = await this.reassert();
      hadLease ??= recovered.hadLease;
      for (const conn of [...this.names.owedJoins]) {
        if (!(await this.names.writeJoin(conn))) throw new Error('lease gone while recovering');
        this.names.owedJoins.delete(conn);
      }
    } while (this.heldChanged);
    return { ...recovered, hadLease: hadLease ?? recovered.hadLease };
  }

  private async reassert(): Promise<Recovered> {
    const names: HeldName[] = [...this.names.held].map(([conn, { name, session, hash }]) => {
      const folded = foldName(name);
      const joinSeq = this.events.joinSeqOf(folded, this.store.node, conn);
      return { folded, conn, name, joinSeq, session, hash, attached: !this.names.detached.has(conn) };
    });
    const result = await this.store.recover(this.epoch, randomUUID(), names);
    result.kept.forEach((kept, i) => kept || this.names.revoke(names[i]!.conn));
    if (this.epoch !== '' && result.epoch !== this.epoch) {
      if (result.graceLeftMs > 0 && (await this.store.hintGhosts(this.events.rosterEntries()))) {
        this.log.warn({ names: names.length }, 'redis lost its data; names re-asserted');
        this.events.startOver();
      } else {
        this.log.warn({ names: names.length }, 'redis lost its data and the grace is over; names given up');
        this.events.reread();
      }
    }
    this.epoch = result.epoch;
    this.lease = result.lease;
    return { graceLeftMs: result.graceLeftMs, hadLease: result.hadLease };
  }
}
