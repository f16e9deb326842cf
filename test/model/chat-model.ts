/**
 * The model for model-based tests of the whole socket-free chat (real hub, session and
 * connection actors, and fan-out), run by test/model/chat.model.test.ts in one process
 * and by test/cluster/model.test.ts over two hubs sharing Redis: both modes, one property
 * suite.
 *
 * The model is deliberately small: the connections (open or gone, which session each
 * holds, two counters, and the frames each is owed), the sessions (the name, the
 * connection attached or the time it was lost, the cids it sent), which sessions hold a
 * name (in join order), and the one sequence of joins, messages and leaves. It never calls
 * src/: the name and text rules are encoded in the generators (a name drawn from
 * `invalidNames` is invalid, and so on), and the model only decides "taken or free".
 * After every command, every connection's new frames must be exactly the ones the model
 * owes, replays included. Rate limiting is off (`rateBurst: 0`) and the connection timers
 * are far away, so neither is modelled; the 1008 close after 5 refused names or 10 bad
 * frames is, and so are the resume window (SPEC §8) on the simulated clock, the history's
 * count bound and the bound on sessions waiting per hub.
 *
 * A frozen connection stays open and is written to, but its client reads none of it: what
 * it "has processed" stops where it froze, and so does its session's position.
 *
 * The real side is test/model/real-chat.ts, the commands test/model/chat-commands.ts, and
 * what they are drawn from test/model/chat-generators.ts.
 */

/** Connections per run: a resume takes a new one, so they are used up faster than names. */
export const MAX_CLIENTS = 30;
const MAX_REFUSALS = 5; // SPEC §2
const MAX_BAD_FRAMES = 10; // SPEC §5; PROTOCOL.md: not_registered counts as one
/** How many cids a session remembers (PROTOCOL.md, Sessions). */
const REMEMBERED_CIDS = 32;
/** The limits the model assumes: no rate limit, timers out of reach. */
export const MODEL_LIMITS = { rateBurst: 0, registerTimeoutMs: 1e9, heartbeatMs: 1e9 };
/**
 * The session settings of runs with a resume window. History is kept short, so that a
 * resume after a long absence finds it no longer reaches back (recovered: false), and so is
 * the number of sessions a hub keeps waiting, so that the oldest is ended for a newer one.
 */
export const MODEL_SESSIONS = { resumeWindowMs: 60_000, historySize: 12, maxWaiting: 3 };
export type ModelSessions = Partial<typeof MODEL_SESSIONS>;
/** The clean close codes (PROTOCOL.md, Sessions): the client chose to go. */
export const CLEAN_CLOSES = [1000, 1001, 1005] as const;
/** Any other end of the socket keeps the session. */
export const DROPS = [1006, 1011, 3000, 4000] as const;
const TAKEN_OVER = 4002;
const POLICY = 1008;

/** The name as shown (NFC, trimmed) and the key it is unique under (SPEC §2). Plain
 * lower-casing suffices because the name pools avoid ß, final sigma and the like. */
const shown = (raw: string) => raw.normalize('NFC').trim();
export const fold = (raw: string) => shown(raw).toLowerCase();

export type Frame = Record<string, unknown>;
/** A frame a connection is owed; `seq`: the chat event it delivers (a join, message or leave). */
interface Owed {
  frame: Frame;
  seq?: number;
}
export interface Client {
  state: 'waiting' | 'online' | 'gone';
  /** The session's name while online (a gone client keeps it). */
  name: string;
  /** The session it holds (or held). */
  session: number | null;
  refusals: number;
  badFrames: number;
  /** The close code the server ends it with (null: it does not close it). */
  closedWith: number | null;
  frozen: boolean;
  owed: Owed[];
}
/** One connection of a session, for the check that a session misses nothing across them. */
export interface Link {
  client: number;
  /** Its welcome's `recovered`; null for the connection that claimed the name. */
  recovered: boolean | null;
  /** How many events there were when it was welcomed: its live frames start after them. */
  from: number;
}
export interface Session {
  name: string;
  /** The connection attached; null while it waits for a resume. */
  conn: number | null;
  /** When it lost its connection (model time), while it waits. */
  lostAt: number;
  /** The order in which the sessions waiting on its hub lost their connections. */
  lostOrder: number;
  /** The hub of its connection (or last connection): a waiting session waits there. */
  hub: number;
  ended: boolean;
  /** The seq of its join, and of its leave once ended. */
  joinSeq: number;
  leaveSeq: number | null;
  /** Its client's position: the largest seq its connections processed, its join's at first. */
  position: number;
  /** Cids it sent, oldest first, at most REMEMBERED_CIDS, each with the seq it landed at. */
  cids: Map<string, number>;
  links: Link[];
}
export interface ChatEventRecord {
  type: 'join' | 'leave' | 'message';
  session: number;
  name: string;
  text?: string;
  ts?: number;
  cid?: string;
}
export interface Model {
  clients: Client[];
  sessions: Session[];
  /** Sessions that hold a name (attached or waiting), in the order they joined. */
  online: number[];
  /** The one sequence of chat events; seq n is events[n - 1]. */
  events: ChatEventRecord[];
  now: number;
  windowMs: number;
  historySize: number;
  maxWaiting: number;
  /** How many hubs: connection i is on hub i mod hubs (the harness deals them out in turn). */
  hubs: number;
  /**
   * Whether a message is delivered before the sender's next action (in memory), or only
   * once the shared store has it (cluster mode): a connection lost right after sending
   * misses its own copy there.
   */
  instant: boolean;
  /** Cids handed out so far: each new one is different. */
  cidCount: number;
  lostCount: number;
}

export function newModel(sessions: ModelSessions = {}, hubs = 1, instant = true): Model {
  return {
    clients: [],
    sessions: [],
    online: [],
    events: [],
    now: 0,
    windowMs: sessions.resumeWindowMs ?? 0,
    historySize: sessions.historySize ?? 100,
    maxWaiting: sessions.maxWaiting ?? 10_000,
    hubs,
    instant,
    cidCount: 0,
    lostCount: 0,
  };
}

export const at = <T>(xs: readonly T[], i: number): T => {
  const x = xs[i];
  if (x === undefined) throw new Error(`no element ${i}`);
  return x;
};
export const sessionOf = (m: Readonly<Model>, who: number): Session | undefined => {
  const s = m.clients[who]?.session;
  return s === null || s === undefined ? undefined : m.sessions[s];
};

/** A frame for connection `i`; a chat event it processes moves its session's position. */
function owe(m: Model, i: number, frame: Frame, seq?: number): void {
  const c = at(m.clients, i);
  c.owed.push(seq === undefined ? { frame } : { frame, seq });
  const s = sessionOf(m, i);
  if (seq !== undefined && !c.frozen && s !== undefined) s.position = Math.max(s.position, seq);
}
/** A frame for the attached connection of every session holding a name, but `but`. */
function toAll(m: Model, but: number, frame: Frame, seq: number): void {
  for (const s of m.online) {
    const conn = at(m.sessions, s).conn;
    if (s !== but && conn !== null) owe(m, conn, frame, seq);
  }
}
function append(m: Model, event: ChatEventRecord): number {
  m.events.push(event);
  return m.events.length;
}
const error = (code: string): Frame => ({ type: 'error', sender: 'Server', code });
const joinFrame = (name: string): Frame => ({
  type: 'join',
  sender: 'Server',
  text: `${name} has joined the chat`,
  name,
});
const leaveFrame = (name: string): Frame => ({
  type: 'leave',
  sender: 'Server',
  text: `${name} has left the chat`,
  name,
});
/** A message as everyone receives it, or as its sender does (`own`): the echo (ECHO=anonymous), with its cid. */
function messageFrame(event: ChatEventRecord, own: boolean): Frame {
  if (!own) return { type: 'message', sender: event.name, text: event.text, ts: event.ts };
  const echo: Frame = { type: 'message', text: event.text, ts: event.ts };
  if (event.cid !== undefined) echo.cid = event.cid;
  return echo;
}
const names = (m: Model) => m.online.map((s) => at(m.sessions, s).name);

/** The session ends: its name is free and everyone else hears it left, once. */
export function endSession(m: Model, s: number): void {
  const session = at(m.sessions, s);
  if (session.ended) throw new Error(`session ${s} ended twice`);
  session.ended = true;
  session.conn = null;
  m.online = m.online.filter((i) => i !== s);
  const seq = append(m, { type: 'leave', session: s, name: session.name });
  session.leaveSeq = seq;
  toAll(m, s, leaveFrame(session.name), seq);
}

/** The connection ends in a way that ends its session too: a clean close, a broken rule. */
export function end(m: Model, who: number, closedWith: number | null): void {
  const c = at(m.clients, who);
  if (c.state === 'online' && c.session !== null) endSession(m, c.session);
  c.state = 'gone';
  c.closedWith = closedWith;
}
/** The connection is lost (dropped, or closed with a code that keeps the session): it waits in its window. */
export function lose(m: Model, who: number): void {
  const c = at(m.clients, who);
  const s = sessionOf(m, who);
  if (c.state === 'online' && s !== undefined && m.windowMs === 0) return end(m, who, null);
  const wasOnline = c.state === 'online';
  c.state = 'gone';
  if (!wasOnline || s === undefined) return;
  s.conn = null;
  s.lostAt = m.now;
  s.lostOrder = ++m.lostCount;
  // Past the bound, the hub ends the session that has waited longest, now.
  const waiting = m.online.filter((i) => at(m.sessions, i).conn === null && at(m.sessions, i).hub === s.hub);
  if (waiting.length <= m.maxWaiting) return;
  const oldest = waiting.reduce((a, b) => (at(m.sessions, a).lostOrder < at(m.sessions, b).lostOrder ? a : b));
  endSession(m, oldest);
}
/** Sessions whose window has run out by now: each is due to be announced as left. */
export function dueToExpire(m: Readonly<Model>): number[] {
  return m.online.filter((s) => {
    const session = at(m.sessions, s);
    return session.conn === null && m.now - session.lostAt >= m.windowMs;
  });
}
export function freeze(m: Model, who: number): void {
  at(m.clients, who).frozen = true;
}

export function refuse(m: Model, who: number, code: 'invalid_name' | 'name_taken'): void {
  const c = at(m.clients, who);
  owe(m, who, error(code));
  if (++c.refusals >= MAX_REFUSALS) end(m, who, POLICY);
}
export function badFrame(m: Model, who: number, code: 'bad_frame' | 'not_registered'): void {
  const c = at(m.clients, who);
  owe(m, who, error(code));
  if (++c.badFrames >= MAX_BAD_FRAMES) end(m, who, POLICY);
}
export function claim(m: Model, who: number, raw: string): void {
  const name = shown(raw);
  if (names(m).some((n) => fold(n) === fold(name))) return refuse(m, who, 'name_taken');
  const c = at(m.clients, who);
  const s = m.sessions.length;
  const seq = append(m, { type: 'join', session: s, name });
  m.sessions.push({
    name,
    conn: who,
    lostAt: 0,
    lostOrder: 0,
    hub: who % m.hubs,
    ended: false,
    joinSeq: seq,
    leaveSeq: null,
    position: 0,
    cids: new Map(),
    links: [{ client: who, recovered: null, from: seq }],
  });
  c.state = 'online';
  c.name = name;
  c.session = s;
  toAll(m, s, joinFrame(name), seq);
  m.online.push(s);
  // PROTOCOL.md: users in the order they joined. The welcome stands for its own join: the
  // client's first position.
  owe(m, who, { type: 'welcome', sender: 'Server', text: `Welcome, ${name}!`, name, users: names(m) }, seq);
}
/**
 * A frame whose `text` is a valid chat text; any `sender` in it is ignored. Its sender
 * gets its own copy unless its connection is gone by the time the message is delivered
 * (`copy` false).
 */
export function say(m: Model, who: number, text: string, cid?: string, copy = true): void {
  const c = at(m.clients, who);
  const s = c.session;
  if (c.state === 'waiting' || s === null) return badFrame(m, who, 'not_registered');
  const session = at(m.sessions, s);
  const landed = cid === undefined ? undefined : session.cids.get(cid);
  if (landed !== undefined) {
    // Sent before: not broadcast again; its sender gets its copy again, as it landed, with this text.
    const first = at(m.events, landed - 1);
    return owe(m, who, { type: 'message', text, ts: first.ts, cid }, landed);
  }
  const event: ChatEventRecord = { type: 'message', session: s, name: c.name, text, ts: m.now };
  if (cid !== undefined) event.cid = cid;
  const seq = append(m, event);
  if (cid !== undefined) {
    session.cids.set(cid, seq);
    if (session.cids.size > REMEMBERED_CIDS) session.cids.delete(session.cids.keys().next().value!);
  }
  toAll(m, s, messageFrame(event, false), seq);
  if (copy) owe(m, who, messageFrame(event, true), seq);
}
/** A message, and the connection lost straight after, before the sender has read anything. */
export function sayThenLose(m: Model, who: number, text: string, cid: string): void {
  say(m, who, text, cid, m.instant);
  lose(m, who);
}
/** A well-formed frame without a usable text, sent by a client that is not naming itself. */
export function saySomethingInvalid(m: Model, who: number): void {
  if (at(m.clients, who).state === 'waiting') return badFrame(m, who, 'not_registered');
  owe(m, who, error('invalid_message'));
}

/** What a resume sends as its position: the epoch and `since` of the frame. */
export type Since =
  | 'none' // neither: take the session back without a replay
  | 'last' // the client's position, in the right epoch
  | 'lastNoEpoch'
  | 'lastWrongEpoch'
  | 'notAPosition' // a `since` that is no decimal integer
  | 'future'; // a position past anything delivered

/** Whether a resume asking `since` recovers (PROTOCOL.md, Resuming). */
function recovers(m: Readonly<Model>, session: Session, since: Since): boolean {
  if (since !== 'last') return false;
  // History holds the last `historySize` events: all of those after the position, or not.
  return m.events.length - session.position <= m.historySize;
}

/**
 * A first frame naming session `target` (null: no live session has that secret). A live
 * one moves to `who`: an open connection of it is closed with 4002 and nobody hears of it.
 */
export function resume(m: Model, who: number, target: number | null, since: Since): void {
  const c = at(m.clients, who);
  const session = target === null ? undefined : m.sessions[target];
  if (target === null || session === undefined || session.ended) return owe(m, who, error('session_expired'));
  if (session.conn !== null) {
    const old = at(m.clients, session.conn);
    old.state = 'gone';
    old.closedWith = TAKEN_OVER;
  }
  session.conn = who;
  session.hub = who % m.hubs;
  c.state = 'online';
  c.name = session.name;
  c.session = target;
  const recovered = recovers(m, session, since);
  session.links.push({ client: who, recovered, from: m.events.length });
  owe(m, who, {
    type: 'welcome',
    sender: 'Server',
    text: `Welcome, ${session.name}!`,
    name: session.name,
    users: names(m),
    resumed: true,
    recovered,
  });
  if (!recovered) return;
  for (let seq = session.position + 1; seq <= m.events.length; seq++) {
    const event = at(m.events, seq - 1);
    const frame =
      event.type === 'message'
        ? messageFrame(event, event.session === target)
        : event.type === 'join'
          ? joinFrame(event.name)
          : leaveFrame(event.name);
    owe(m, who, { ...frame, replay: true }, seq);
  }
}
