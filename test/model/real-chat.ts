/**
 * The real side of a model run: the chat under test beside the model, and the checks after
 * every command:
 * - each connection got exactly the frames the model owes it, each chat frame with the id
 *   its event has in the one sequence;
 * - every hub delivered the same sequence (in a cluster, every node delivers every event),
 *   and it is the model's, ids growing;
 * - SPEC §8's promises, read off the real frames and that sequence with only the model's
 *   structure (which connections a session had): a session's deliveries across its
 *   connections are the sequence from its join on, each event once and in order, live or
 *   replayed (after `recovered: false` the check starts again at the resume's live frames);
 *   nobody is shown a join or leave of a session still live, and exactly one leave of one
 *   that ended; no two live sessions hold one name; no cid of a session is broadcast twice;
 * - the hubs' own books (members, session actors, sessions waiting) match the model.
 */
import { isDeepStrictEqual } from 'node:util';
import { expect } from 'vitest';
import type { ChatFrame, ServerFrame } from '../../src/frames.js';
import type { Chat, TestClient } from '../support/chat-harness.js';
import { at, fold, newModel, type Frame, type Model, type ModelSessions } from './chat-model.js';

/** One event as a hub delivered it, with the cid its author's copy carried. */
interface Delivered {
  frame: ChatFrame;
  cid: string | undefined;
}
/** What a resume sends to take session `s` back; the secret and epoch of its latest welcome. */
interface Keys {
  secret: string;
  epoch: string;
}

export interface Real {
  chat: Chat;
  settle: () => Promise<void>;
  clients: TestClient[];
  checked: number[];
  /** Every hub's deliveries, in order. */
  logs: Delivered[][];
  /** How many of the log's entries have been matched to the model's events. */
  matched: number;
  /** Model session -> the keys its welcomes carried. */
  keys: Map<number, Keys>;
  crashes: unknown[];
}

/**
 * What the model can predict of a frame: not the id (checked apart), a join's or leave's
 * time (a cluster stamps it with Redis's clock), a welcome's secret, nor an error's wording.
 */
function view(f: ServerFrame): Frame {
  switch (f.type) {
    case 'message': {
      const { id: _id, ...rest } = f;
      return rest;
    }
    case 'join':
    case 'leave': {
      const { id: _id, ts: _ts, ...rest } = f;
      return rest;
    }
    case 'welcome': {
      const { session: _session, epoch: _epoch, id: _id, ts: _ts, ...rest } = f;
      return rest;
    }
    case 'error':
      return { type: f.type, sender: f.sender, code: f.code };
  }
}
function same(actual: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) expect({ [what]: actual }).toEqual({ [what]: expected });
}
const isChat = (f: ServerFrame): f is ChatFrame => f.type === 'join' || f.type === 'leave' || f.type === 'message';

/** The log's entries not yet matched to the model's events (hub 0's: all hubs' are compared). */
export function unmatched(r: Real): Delivered[] {
  return at(r.logs, 0).slice(r.matched);
}
/** The real id of the event with model seq `seq`. */
export const idOf = (r: Real, seq: number): string => at(at(r.logs, 0), seq - 1).frame.id;

/** Every hub delivered one sequence, the model's, with growing ids. */
function checkLog(m: Model, r: Real): void {
  const log = at(r.logs, 0);
  r.logs.forEach((other, i) =>
    same(
      other.map((d) => d.frame.id),
      log.map((d) => d.frame.id),
      `ids delivered by hub ${i}`,
    ),
  );
  same(
    log
      .slice(r.matched)
      .map(({ frame: f }) =>
        f.type === 'message' ? { type: f.type, name: f.sender, text: f.text } : { type: f.type, name: f.name },
      ),
    m.events
      .slice(r.matched)
      .map((e) =>
        e.type === 'message' ? { type: e.type, name: e.name, text: e.text } : { type: e.type, name: e.name },
      ),
    'events delivered',
  );
  for (let i = Math.max(1, r.matched); i < log.length; i++) {
    const [before, id] = [at(log, i - 1).frame.id, at(log, i).frame.id];
    // PROTOCOL.md: a decimal integer in a string, one per event, growing in delivery order.
    expect(id).toMatch(/^\d+$/);
    if (!(Number(id) > Number(before))) expect.fail(`event ${i}: id ${id} after ${before}: ids must grow`);
  }
  r.matched = log.length;
}

/** Each connection got exactly its owed frames, in order; each chat frame with its event's id. */
function checkConnections(m: Model, r: Real): void {
  m.clients.forEach((c, i) => {
    const client = at(r.clients, i);
    const from = at(r.checked, i);
    // Exactly the owed frames, in order: nothing before the welcome or after leaving.
    same(
      client.frames.slice(from).map(view),
      c.owed.slice(from).map((o) => o.frame),
      `#${i} new frames`,
    );
    for (let j = from; j < client.frames.length; j++) {
      const f = at(client.frames, j);
      if (f.type === 'error' && f.code === 'name_taken') same(f.text, 'Username already taken', 'name_taken text');
      const seq = at(c.owed, j).seq;
      // A registration's welcome carries its own join's id.
      if (seq !== undefined && (isChat(f) || f.type === 'welcome'))
        same(f.id, idOf(r, seq), `#${i} frame ${j}: the id of event ${seq}`);
      if (f.type === 'welcome' && c.session !== null) {
        // A resumed welcome carries the same session (PROTOCOL.md, Resuming).
        const known = r.keys.get(c.session);
        if (known !== undefined) same(f.session, known.secret, `#${i} welcome's session`);
        r.keys.set(c.session, { secret: f.session, epoch: f.epoch });
      }
    }
    r.checked[i] = client.frames.length;
    same(
      client.ending === null ? null : client.ending.kind === 'close' ? client.ending.code : 'terminate',
      c.closedWith,
      `#${i} ending`,
    );
    same(client.actor.getSnapshot().status, c.state === 'gone' ? 'stopped' : 'active', `#${i} actor status`);
  });
}

/**
 * SPEC §8, from the real frames and the log: what each session's client processed, over
 * all its connections, is the log from its join on, each event once, in order, nothing
 * after its leave; an open connection that reads is up to date. A resend's copy (its
 * own message, sent again for its cid) is no delivery.
 */
function checkDeliveries(m: Model, r: Real): void {
  const log = at(r.logs, 0);
  const indexOf = new Map(log.map((d, i) => [d.frame.id, i]));
  m.sessions.forEach((s, si) => {
    let next = s.joinSeq; // the log index after its join
    let last = s.joinSeq - 1; // the log index of the last event it processed: its welcome is its join
    for (const link of s.links) {
      const client = at(r.clients, link.client);
      const frames = client.processed();
      const welcome = frames.findIndex((f) => f.type === 'welcome');
      if (welcome < 0) continue; // it froze before its welcome came
      const greeting = at(frames, welcome);
      const recovered = greeting.type === 'welcome' && greeting.recovered === true;
      if (link.recovered !== null) next = recovered ? last + 1 : link.from;
      for (const f of frames.slice(welcome + 1)) {
        if (!isChat(f)) continue;
        const index = indexOf.get(f.id);
        if (index === undefined) expect.fail(`session ${si} (#${link.client}) got id ${f.id}, which nobody delivered`);
        if (f.type === 'message' && f.replay === undefined && f.cid !== undefined && index < next) {
          // A resend's copy: the one message with this cid, as it landed. Its id is a
          // position the client has seen all the same.
          const { frame: first, cid } = at(log, index);
          same(
            [first.type, first.type === 'message' ? first.sender : null, cid],
            ['message', s.name, f.cid],
            `session ${si}: copy of ${f.id}`,
          );
          last = Math.max(last, index);
          continue;
        }
        if (index !== next)
          expect.fail(
            `session ${si} (#${link.client}): got id ${f.id} (event ${index + 1}) where event ${next + 1} was due`,
          );
        if (s.leaveSeq !== null && index >= s.leaveSeq - 1)
          expect.fail(`session ${si} got event ${index + 1} after its leave`);
        next++;
        last = index;
      }
    }
    const current = s.conn === null ? undefined : at(r.clients, s.conn);
    if (current !== undefined && !current.frozen && next !== log.length)
      expect.fail(`session ${si} (#${s.conn}) has processed up to event ${next}, not all ${log.length}`);
  });
}

/** Joins and leaves of each session's name after its join: none while it lives, its one leave once it ended. */
function checkAnnouncements(m: Model, r: Real): void {
  const log = at(r.logs, 0);
  m.sessions.forEach((s, si) => {
    const key = fold(s.name);
    const next = log
      .slice(s.joinSeq)
      .findIndex(({ frame: f }) => (f.type === 'join' || f.type === 'leave') && fold(f.name) === key);
    const found = next < 0 ? null : at(log, s.joinSeq + next).frame;
    if (!s.ended) same(found, null, `session ${si} (${s.name}) is live: join or leave of its name`);
    else
      same(found === null ? null : [found.type, s.joinSeq + next + 1], ['leave', s.leaveSeq], `session ${si}'s leave`);
  });
  // A cid is broadcast at most once per session: a session is its name from its join to its leave.
  const current = new Map<string, number>();
  const seen = new Set<string>();
  log.forEach(({ frame: f, cid }, i) => {
    if (f.type === 'join') current.set(fold(f.name), i);
    if (f.type !== 'message' || cid === undefined) return;
    const key = `${current.get(fold(f.sender ?? ''))}:${cid}`;
    if (seen.has(key)) expect.fail(`cid ${JSON.stringify(cid)} of ${f.sender} broadcast again, as ${f.id}`);
    seen.add(key);
  });
}

interface HubBooks {
  members: Record<string, string>;
  roster: string[];
  secrets: object;
  resuming: object;
  historyWanted: object;
  waiting: Set<string>;
  sessions: { values(): Iterable<{ getSnapshot(): unknown }> };
}
/** The hubs' own records agree with the model, and hold nothing left over from a finished step. */
function checkHubs(m: Model, r: Real): void {
  const live = m.online.map((s) => at(m.sessions, s));
  const members: string[] = [];
  const sessions: Array<{ name: string; attached: boolean }> = [];
  let waiting = 0;
  for (const hub of r.chat.hubs) {
    const snapshot = hub.getSnapshot();
    same(snapshot.status, 'active', 'hub status');
    const books = snapshot.context as unknown as HubBooks;
    members.push(...Object.keys(books.members));
    waiting += books.waiting.size;
    same(
      [Object.keys(books.secrets).length, Object.keys(books.resuming).length, Object.keys(books.historyWanted).length],
      [0, 0, 0],
      'secrets, resumes and history requests pending',
    );
    for (const actor of books.sessions.values()) {
      const state = actor.getSnapshot() as { status: string; value: unknown; context: { name: string } };
      if (state.status !== 'active') continue;
      sessions.push({ name: state.context.name, attached: state.value === 'attached' });
    }
    same(
      books.roster,
      live.map((s) => s.name),
      'online names',
    );
    same(new Set(books.roster.map(fold)).size, books.roster.length, 'distinct folded names');
  }
  const byName = (a: { name: string }, b: { name: string }) => (fold(a.name) < fold(b.name) ? -1 : 1);
  same(
    sessions.sort(byName),
    live.map((s) => ({ name: s.name, attached: s.conn !== null })).sort(byName),
    'live sessions (name, attached)',
  );
  same(
    members.sort(),
    live.flatMap((s) => (s.conn === null ? [] : [at(r.clients, s.conn).id])).sort(),
    'members (attached connections)',
  );
  same(waiting, live.filter((s) => s.conn === null).length, 'sessions waiting for a resume');
}

export function verify(m: Model, r: Real): void {
  same(r.crashes, [], 'crashed connections');
  checkLog(m, r);
  checkConnections(m, r);
  checkDeliveries(m, r);
  checkAnnouncements(m, r);
  checkHubs(m, r);
}

/** One run's model and real chat; `settle` resolves once everything a step caused is done (none: at once). */
export function modelRun(
  chat: Chat,
  sessions: ModelSessions = {},
  settle?: () => Promise<void>,
): { model: Model; real: Real } {
  const crashes: unknown[] = [];
  const logs = chat.hubs.map((hub) => {
    const log: Delivered[] = [];
    hub.on('connection.crashed', (e) => crashes.push(e.error));
    hub.on('broadcast', ({ frame, authorFrame }) => {
      if (!isChat(frame)) return;
      log.push({ frame, cid: authorFrame?.type === 'message' ? authorFrame.cid : undefined });
    });
    return log;
  });
  // Without a settle to wait for, everything a step causes is done when it returns.
  const model = newModel(sessions, chat.hubs.length, settle === undefined);
  const real: Real = {
    chat,
    settle: settle ?? (() => Promise.resolve()),
    clients: [],
    checked: [],
    logs,
    matched: 0,
    keys: new Map(),
    crashes,
  };
  return { model, real };
}
