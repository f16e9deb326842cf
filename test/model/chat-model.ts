/**
 * The model and commands for model-based tests of the whole socket-free chat (real hub,
 * connections and fan-out), run by test/model/chat.model.test.ts in one process and by
 * test/cluster/model.test.ts over two hubs sharing Redis: both modes, one property suite.
 *
 * The model is deliberately small: which clients are open, which are online under which
 * name (in join order), two counters per client, and the frames each client is owed. It
 * never calls src/: the name and text rules are encoded in the generators (a name drawn
 * from `invalidNames` is invalid, and so on), and the model only decides "taken or free".
 * After every command, every client's new frames must be exactly the ones the model owes.
 * Rate limiting is off (`rateBurst: 0`) and the timers are far away, so neither is modelled;
 * the 1008 close after 5 refused names or 10 bad frames is.
 *
 * Every command waits for `settle()` before checking: at once in memory; in cluster mode
 * until every Redis round trip it caused, and every delivery, is done.
 */
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { expect } from 'vitest';
import type { ServerFrame } from '../../src/frames.js';
import type { Chat, TestClient } from '../support/chat-harness.js';
import { hasContent } from '../support/expected.js';

const MAX_CLIENTS = 10;
const MAX_REFUSALS = 5; // SPEC §2
const MAX_BAD_FRAMES = 10; // SPEC §5; PROTOCOL.md: not_registered counts as one
/** The limits the model assumes: no rate limit, timers out of reach. */
export const MODEL_LIMITS = { rateBurst: 0, registerTimeoutMs: 1e9, heartbeatMs: 1e9 };

/** The name as shown (NFC, trimmed) and the key it is unique under (SPEC §2). Plain
 * lower-casing suffices because the name pools avoid ß, final sigma and the like. */
const shown = (raw: string) => raw.normalize('NFC').trim();
const fold = (raw: string) => shown(raw).toLowerCase();

type Frame = Record<string, unknown>;
interface Owed {
  frame: Frame;
  seq?: number;
} // seq: the model's number for a message
interface Client {
  state: 'waiting' | 'online' | 'gone';
  name: string;
  refusals: number;
  badFrames: number;
  policyClosed: boolean;
  owed: Owed[];
}
interface Model {
  clients: Client[];
  online: number[];
  now: number;
  seq: number;
}
interface Real {
  chat: Chat;
  settle: () => Promise<void>;
  clients: TestClient[];
  checked: number[];
  ids: Map<number, number>;
  lastId: number;
  crashes: unknown[];
}

// ---------------------------------------------------------------- the model

const at = <T>(xs: readonly T[], i: number): T => {
  const x = xs[i];
  if (x === undefined) throw new Error(`no element ${i}`);
  return x;
};
const owe = (m: Model, i: number, frame: Frame, seq?: number) =>
  at(m.clients, i).owed.push(seq === undefined ? { frame } : { frame, seq });
const toAll = (m: Model, but: number, frame: Frame, seq?: number) =>
  m.online.filter((i) => i !== but).forEach((i) => owe(m, i, frame, seq));
const error = (code: string): Frame => ({ type: 'error', sender: 'Server', code });

function end(m: Model, who: number, policy: boolean): void {
  const c = at(m.clients, who);
  if (c.state === 'online') {
    m.online = m.online.filter((i) => i !== who);
    toAll(m, who, { type: 'leave', sender: 'Server', text: `${c.name} has left the chat`, name: c.name });
  }
  c.state = 'gone';
  c.policyClosed = policy;
}
function refuse(m: Model, who: number, code: 'invalid_name' | 'name_taken'): void {
  const c = at(m.clients, who);
  owe(m, who, error(code));
  if (++c.refusals >= MAX_REFUSALS) end(m, who, true);
}
function badFrame(m: Model, who: number, code: 'bad_frame' | 'not_registered'): void {
  const c = at(m.clients, who);
  owe(m, who, error(code));
  if (++c.badFrames >= MAX_BAD_FRAMES) end(m, who, true);
}
function claim(m: Model, who: number, raw: string): void {
  const name = shown(raw);
  if (m.online.some((i) => fold(at(m.clients, i).name) === fold(name))) return refuse(m, who, 'name_taken');
  const c = at(m.clients, who);
  c.state = 'online';
  c.name = name;
  toAll(m, who, { type: 'join', sender: 'Server', text: `${name} has joined the chat`, name });
  m.online.push(who);
  // PROTOCOL.md: users in the order they joined.
  const users = m.online.map((i) => at(m.clients, i).name);
  owe(m, who, { type: 'welcome', sender: 'Server', text: `Welcome, ${name}!`, name, users });
}
/** A frame whose `text` is a valid chat text; any `sender` in it is ignored. */
function say(m: Model, who: number, text: string): void {
  const c = at(m.clients, who);
  if (c.state === 'waiting') return badFrame(m, who, 'not_registered');
  const seq = ++m.seq;
  toAll(m, who, { type: 'message', sender: c.name, text, ts: m.now }, seq);
  owe(m, who, { type: 'message', text, ts: m.now }, seq); // echo 'anonymous': no sender
}
/** A well-formed frame without a usable text, sent by a client that is not naming itself. */
function saySomethingInvalid(m: Model, who: number): void {
  if (at(m.clients, who).state === 'waiting') return badFrame(m, who, 'not_registered');
  owe(m, who, error('invalid_message'));
}

// ---------------------------------------------------------------- checking the real chat

/** What the model can predict of a frame: not the id (checked apart) nor an error's wording. */
function view(f: ServerFrame): Frame {
  if (f.type === 'message') {
    const { id: _id, ...rest } = f;
    return rest;
  }
  if (f.type === 'error') return { type: f.type, sender: f.sender, code: f.code };
  return f;
}
function same(actual: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) expect({ [what]: actual }).toEqual({ [what]: expected });
}

function verify(m: Model, r: Real): void {
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

// ---------------------------------------------------------------- commands

type Cmd = fc.AsyncCommand<Model, Real>;
const isOpen = (m: Readonly<Model>, who: number) => m.clients[who] !== undefined && m.clients[who].state !== 'gone';
const isState = (m: Readonly<Model>, who: number, state: Client['state']) => m.clients[who]?.state === state;
const show = (v: unknown) =>
  typeof v === 'string' && v.length > 40 ? `${JSON.stringify(v.slice(0, 12))}…(${v.length})` : JSON.stringify(v);

/** Sends `data` as client `who`, lets the model predict, then checks everything. */
async function step(m: Model, r: Real, who: number, data: object | string | null, predict: () => void): Promise<void> {
  at(r.clients, who).send(data);
  await r.settle();
  predict();
  verify(m, r);
}

class Connect implements Cmd {
  check = (m: Readonly<Model>) => m.clients.length < MAX_CLIENTS;
  run(m: Model, r: Real): Promise<void> {
    r.clients.push(r.chat.open());
    r.checked.push(0);
    m.clients.push({ state: 'waiting', name: '', refusals: 0, badFrames: 0, policyClosed: false, owed: [] });
    verify(m, r);
    return Promise.resolve();
  }
  toString = () => 'connect';
}
/** Connects a new client (the next number) and claims a name at once. */
class Join implements Cmd {
  constructor(readonly name: string) {}
  check = (m: Readonly<Model>) => m.clients.length < MAX_CLIENTS;
  async run(m: Model, r: Real) {
    await new Connect().run(m, r);
    await new Register(m.clients.length - 1, this.name, true).run(m, r);
  }
  toString = () => `connect+register(${show(this.name)})`;
}
class Register implements Cmd {
  constructor(
    readonly who: number,
    readonly name: string,
    readonly valid: boolean,
  ) {}
  check = (m: Readonly<Model>) => isState(m, this.who, 'waiting');
  async run(m: Model, r: Real) {
    await step(m, r, this.who, { sender: this.name, text: '' }, () =>
      this.valid ? claim(m, this.who, this.name) : refuse(m, this.who, 'invalid_name'),
    );
  }
  toString = () => `register(#${this.who}, ${show(this.name)}${this.valid ? '' : ' invalid'})`;
}
const variants = {
  upper: (s: string) => s.toUpperCase(),
  lower: (s: string) => s.toLowerCase(),
  nfd: (s: string) => s.normalize('NFD'),
  nfdUpper: (s: string) => s.toUpperCase().normalize('NFD'),
  padded: (s: string) => ` \t${s}\u00A0`,
} as const;
/** Claims a case/normalisation variant of a name in use: the `nth` online, in join order. */
class RegisterLike implements Cmd {
  constructor(
    readonly who: number,
    readonly nth: number,
    readonly variant: keyof typeof variants,
  ) {}
  check = (m: Readonly<Model>) => isState(m, this.who, 'waiting') && m.online.length > 0;
  async run(m: Model, r: Real) {
    const name = variants[this.variant](at(m.clients, at(m.online, this.nth % m.online.length)).name);
    await step(m, r, this.who, { sender: name, text: '' }, () => claim(m, this.who, name));
  }
  toString = () => `register(#${this.who}, ${this.variant}(name of online[${this.nth} mod n]))`;
}
/** A chat frame with valid text; `sender` is absent, null, or someone else's name. */
class Say implements Cmd {
  constructor(
    readonly who: number,
    readonly text: string,
    readonly as: 'none' | 'null' | 'Server' | number,
  ) {}
  check = (m: Readonly<Model>) =>
    isOpen(m, this.who) && (this.as === 'none' || this.as === 'null' || isState(m, this.who, 'online'));
  async run(m: Model, r: Real) {
    const sender =
      this.as === 'none'
        ? undefined
        : this.as === 'null'
          ? null
          : this.as === 'Server'
            ? 'Server'
            : m.clients[this.as]?.name || 'Mallory';
    await step(m, r, this.who, { sender, text: this.text, extra: [1] }, () => say(m, this.who, this.text));
  }
  toString = () =>
    `say(#${this.who}, ${show(this.text)}${typeof this.as === 'number' ? ` as name of #${this.as}` : this.as === 'none' ? '' : ` as ${this.as}`})`;
}
/** A well-formed frame with blank, too long or missing text, and no name claim. */
class SayInvalid implements Cmd {
  constructor(
    readonly who: number,
    readonly data: string,
  ) {}
  check = (m: Readonly<Model>) => isOpen(m, this.who);
  async run(m: Model, r: Real) {
    await step(m, r, this.who, this.data, () => saySomethingInvalid(m, this.who));
  }
  toString = () => `sayInvalid(#${this.who}, ${show(this.data)})`;
}
class Garbage implements Cmd {
  constructor(
    readonly who: number,
    readonly frames: (string | null)[],
  ) {}
  check = (m: Readonly<Model>) => isOpen(m, this.who);
  async run(m: Model, r: Real) {
    for (const data of this.frames) {
      if (!isOpen(m, this.who)) break; // closed by the 10th: the rest go nowhere
      await step(m, r, this.who, data, () => badFrame(m, this.who, 'bad_frame'));
    }
  }
  toString = () => `garbage(#${this.who}, ${this.frames.map((f) => (f === null ? 'binary' : show(f))).join(', ')})`;
}
class Disconnect implements Cmd {
  constructor(readonly who: number) {}
  check = (m: Readonly<Model>) => isOpen(m, this.who);
  async run(m: Model, r: Real) {
    at(r.clients, this.who).disconnect();
    await r.settle();
    end(m, this.who, false);
    verify(m, r);
  }
  toString = () => `disconnect(#${this.who})`;
}
class Tick implements Cmd {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    r.chat.clock.increment(this.ms);
    await r.settle();
    m.now += this.ms;
    verify(m, r);
  }
  toString = () => `tick(${this.ms})`;
}

// ---------------------------------------------------------------- generators

/** Valid names, chosen to collide: case, NFC/NFD, padding, and the length limit in code points. */
const namePool = [
  'Alice',
  'alice',
  'ALICE',
  'Bob',
  ' Bob ',
  'José',
  'Jose\u0301',
  'JOSÉ',
  'Zoë',
  '李雷',
  '\uFEFFAlice',
  'e\u0301'.repeat(32),
  '😀'.repeat(32),
  'a'.repeat(32),
  `  ${'b'.repeat(32)}  `,
];
const validName = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(...namePool) },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,7}$/).filter((s) => fold(s) !== 'server') },
);
const invalidName = fc.constantFrom(
  '',
  '   ',
  ' \n ',
  'a'.repeat(33),
  '😀'.repeat(33),
  'e\u0301'.repeat(33),
  '\u202Eevil',
  'zero\u200Bwidth',
  '\u200B',
  'Al\u00ADice',
  'tab\there',
  'nul\u0000',
  'bell\u0007',
  'x\u0085y',
  'server',
  'Server',
  'SERVER',
  ' sErVeR ',
  '\u2066Bob\u2069',
  '\u3164',
  'Bob\u2028x',
  '\uFF33erver',
  'Server\uFE0F',
);
const validText = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).filter(hasContent) },
  { weight: 1, arbitrary: fc.constantFrom(' hi ', 'Server: fake', '\u202Eboo', 'x'.repeat(4096), '😀'.repeat(4096)) },
);
const invalidFrame = fc.oneof(
  fc
    .constantFrom(
      '',
      ' ',
      '\n\t ',
      '\u3000',
      '\uFEFF',
      '\u200B',
      '\u0000',
      '\u202E\u200D',
      'x'.repeat(4097),
      '😀'.repeat(4097),
    )
    .map((text) => JSON.stringify({ text })),
  fc.constantFrom(
    '{}',
    '{"foo":1}',
    '{"text":null}',
    '{"sender":null,"text":"  "}',
    '{"__proto__":{"sender":"x","text":"y"}}',
  ),
);
const garbage = fc.oneof(
  fc.constantFrom<string | null>(null, 'not json', '{', '', '[]', '[{"text":"hi"}]', '42', '"hi"', 'null', 'true'),
  fc
    .jsonValue()
    .filter((v) => typeof v !== 'object' || v === null || Array.isArray(v))
    .map((v) => JSON.stringify(v)),
  fc
    .record({
      sender: fc.constantFrom<unknown>('Bob', null, 7, undefined),
      text: fc.constantFrom<unknown>(5, true, [], {}, ['hi']),
    })
    .map((f) => JSON.stringify(f)),
  fc.constantFrom('{"sender":7,"text":"hi"}', '{"sender":["Bob"]}', '{"sender":{},"text":""}'),
);
const who = fc.nat({ max: MAX_CLIENTS - 1 });
export const commands = [
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(new Connect()) },
    { weight: 4, arbitrary: validName.map((n) => new Join(n)) },
    { weight: 4, arbitrary: fc.tuple(who, validName).map(([w, n]) => new Register(w, n, true)) },
    { weight: 2, arbitrary: fc.tuple(who, invalidName).map(([w, n]) => new Register(w, n, false)) },
    {
      weight: 4,
      arbitrary: fc
        .tuple(who, who, fc.constantFrom(...(Object.keys(variants) as (keyof typeof variants)[])))
        .map(([w, o, v]) => new RegisterLike(w, o, v)),
    },
    { weight: 5, arbitrary: fc.tuple(who, validText).map(([w, t]) => new Say(w, t, 'none')) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(who, validText, fc.constantFrom<'null' | 'Server'>('null', 'Server'))
        .map(([w, t, a]) => new Say(w, t, a)),
    },
    { weight: 2, arbitrary: fc.tuple(who, validText, who).map(([w, t, a]) => new Say(w, t, a)) },
    { weight: 2, arbitrary: fc.tuple(who, invalidFrame).map(([w, d]) => new SayInvalid(w, d)) },
    {
      weight: 3,
      arbitrary: fc.tuple(who, fc.array(garbage, { minLength: 1, maxLength: 6 })).map(([w, g]) => new Garbage(w, g)),
    },
    { weight: 2, arbitrary: who.map((w) => new Disconnect(w)) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 5_000 }).map((ms) => new Tick(ms)) },
  ),
];

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
