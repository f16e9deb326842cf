/**
 * The records the cluster scripts keep in Redis (log entries, names, recoveries) as the
 * node sees them, and the parsing of Redis's raw replies into them.
 */

/** One entry of the log, as XREAD returns it. */
export interface LogEntry {
  seq: number;
  /** j(oin), m(essage), l(eave), r(esumed: the session moved to node/conn from `previous`). */
  kind: 'j' | 'l' | 'm' | 'r';
  node: string;
  conn: string;
  name: string;
  text: string;
  ts: number;
  /** The session it is about ('' in entries written before sessions). */
  session: string;
  cid: string | undefined;
  /** For r: "node/conn" that held the session before. */
  previous: string;
}

/** A name as `chat:names` holds it. */
export interface NameEntry {
  folded: string;
  name: string;
  node: string;
  conn: string;
  /** Sequence number of its join; null while it has not joined. */
  joinSeq: number | null;
}

/** A name this node holds, as it re-asserts it after an outage. */
export interface HeldName {
  folded: string;
  conn: string;
  name: string;
  joinSeq: number | null;
  session: string;
  hash: string;
  /** A connection holds it now (false: its session waits for a resume). */
  attached: boolean;
}

export interface Recovery {
  epoch: string;
  /** The value of the lease this recovery took: claims and renewals show it. */
  lease: string;
  /** How long claims must still wait for every live node to re-assert its names (ms). */
  graceLeftMs: number;
  /** This node's lease key was still there: Redis kept its data and the node was not reaped. */
  hadLease: boolean;
  /** Per held name, in the order given: still this node's? */
  kept: boolean[];
}

/** What a reaper finds: nodes whose lease ran out, and whether ghosts wait to be announced. */
export interface ReapCheck {
  dead: string[];
  ghosts: boolean;
}

export function parseLogEntry(id: string, fields: string[]): LogEntry {
  const entry: LogEntry = {
    seq: Number.parseInt(id, 10),
    kind: 'm',
    node: '',
    conn: '',
    name: '',
    text: '',
    ts: 0,
    session: '',
    cid: undefined,
    previous: '',
  };
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1]!;
    switch (fields[i]) {
      case 'k':
        entry.kind = value as LogEntry['kind'];
        break;
      case 'o':
        entry.node = value;
        break;
      case 'c':
        entry.conn = value;
        break;
      case 'u':
        entry.name = value;
        break;
      case 'x':
        entry.text = value;
        break;
      case 't':
        entry.ts = Number(value);
        break;
      case 's':
        entry.session = value;
        break;
      case 'i':
        entry.cid = value;
        break;
      case 'p':
        entry.previous = value;
        break;
    }
  }
  return entry;
}

/** A ghost as a roster entry: online until its leave is announced. */
export function parseGhost(holder: string, json: string): NameEntry {
  const ghost = JSON.parse(json) as { f: string; u: string; n: string };
  const slash = holder.indexOf('/');
  return {
    folded: ghost.f,
    name: ghost.u,
    node: holder.slice(0, slash),
    conn: holder.slice(slash + 1),
    joinSeq: Number(ghost.n),
  };
}

export function parseNameEntry(folded: string, json: string): NameEntry {
  const entry = JSON.parse(json) as { t: string; u: string; j: number; n?: string };
  const slash = entry.t.indexOf('/');
  return {
    folded,
    name: entry.u,
    node: entry.t.slice(0, slash),
    conn: entry.t.slice(slash + 1),
    joinSeq: entry.j === 1 && entry.n !== undefined ? Number(entry.n) : null,
  };
}
