/**
 * The real side of a model run: the chat under test beside the model, and the check after
 * every command that each client got exactly the frames the model owes it.
 */
import { isDeepStrictEqual } from 'node:util';
import { expect } from 'vitest';
import type { ServerFrame } from '../../src/frames.js';
import type { Chat, TestClient } from '../support/chat-harness.js';
import { at, fold, type Frame, type Model } from './chat-model.js';

export interface Real {
  chat: Chat;
  settle: () => Promise<void>;
  clients: TestClient[];
  checked: number[];
  ids: Map<number, number>;
  lastId: number;
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

export function verify(m: Model, r: Real): void {
  same(r.crashes, [], 'crashed connections');
  for (const hub of r.chat.hubs) same(hub.getSnapshot().status, 'active', 'hub status');
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
      if (f.type !== 'message') continue;
      // PROTOCOL.md: a decimal integer in a string, one per event, growing in delivery order.
      expect(f.id).toMatch(/^\d+$/);
      const id = Number(f.id);
      const seq = at(c.owed, j).seq ?? -1;
      const known = r.ids.get(seq);
      if (known === undefined) {
        if (!(id > r.lastId)) expect.fail(`message id ${id} after id ${r.lastId}: ids must grow`);
        r.ids.set(seq, id);
        r.lastId = id;
      } else same(id, known, `#${i} id of message ${seq}`);
      const previous = j === 0 ? undefined : client.frames.slice(0, j).findLast((p) => p.type === 'message');
      if (previous?.type === 'message' && !(Number(previous.id) < id))
        expect.fail(`#${i}: id ${id} after ${previous.id}`);
    }
    r.checked[i] = client.frames.length;
    same(
      client.ending === null ? null : client.ending.kind === 'close' ? client.ending.code : 'terminate',
      c.policyClosed ? 1008 : null,
      `#${i} ending`,
    );
    same(client.actor.getSnapshot().status, c.state === 'gone' ? 'stopped' : 'active', `#${i} actor status`);
  });
  for (const roster of r.chat.rosters()) {
    same(
      roster,
      m.online.map((i) => at(m.clients, i).name),
      'online names',
    );
    same(new Set(roster.map(fold)).size, roster.length, 'distinct folded names');
  }
}
/** One run's model and real chat; `settle` resolves once everything a step caused is done. */
export function modelRun(
  chat: Chat,
  settle: () => Promise<void> = () => Promise.resolve(),
): { model: Model; real: Real } {
  const crashes: unknown[] = [];
  for (const hub of chat.hubs) hub.on('connection.crashed', (e) => crashes.push(e.error));
  const model: Model = { clients: [], online: [], now: 0, seq: 0 };
  const real: Real = { chat, settle, clients: [], checked: [], ids: new Map(), lastId: -Infinity, crashes };
  return { model, real };
}
