/**
 * The commands of the model run: each sends something as one client (or ends its
 * connection, freezes it, or moves the clock), lets the model predict, then checks the real
 * chat against it. Every command waits for `settle()` before checking: at once in memory;
 * in cluster mode until every Redis round trip it caused, and every delivery, is done.
 */
import fc from 'fast-check';
import {
  at,
  badFrame,
  claim,
  dueToExpire,
  end,
  endSession,
  freeze,
  lose,
  MAX_CLIENTS,
  refuse,
  resume,
  say,
  saySomethingInvalid,
  sayThenLose,
  sessionOf,
  type Client,
  type Model,
  type Since,
} from './chat-model.js';
import { idOf, unmatched, verify, type Real } from './real-chat.js';

type Cmd = fc.AsyncCommand<Model, Real>;
const isOpen = (m: Readonly<Model>, who: number) => m.clients[who] !== undefined && m.clients[who].state !== 'gone';
/** Open and reading: a frozen client sends nothing, not even a close frame. */
const canSend = (m: Readonly<Model>, who: number) => isOpen(m, who) && !at(m.clients, who).frozen;
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

export class Connect implements Cmd {
  check = (m: Readonly<Model>) => m.clients.length < MAX_CLIENTS;
  run(m: Model, r: Real): Promise<void> {
    r.clients.push(r.chat.open());
    r.checked.push(0);
    m.clients.push({
      state: 'waiting',
      name: '',
      session: null,
      refusals: 0,
      badFrames: 0,
      closedWith: null,
      frozen: false,
      owed: [],
    });
    verify(m, r);
    return Promise.resolve();
  }
  toString = () => 'connect';
}

/**
 * A command that acts as one client: `who` picks it among the clients it fits, by its
 * place among them (so that a draw stays useful however many have come and gone). A
 * failure names the client it picked; the command's own name cannot, as fast-check runs
 * one command in many sequences while it shrinks.
 */
abstract class AsClient implements Cmd {
  constructor(readonly who: number) {}
  /** Whether client `i` can do this. */
  abstract fits(m: Readonly<Model>, i: number): boolean;
  abstract act(m: Model, r: Real, who: number): Promise<void>;
  abstract describe(): string;
  private pick(m: Readonly<Model>): number | undefined {
    const fitting = m.clients.flatMap((_, i) => (this.fits(m, i) ? [i] : []));
    return fitting.length === 0 ? undefined : fitting[this.who % fitting.length];
  }
  check = (m: Readonly<Model>) => this.pick(m) !== undefined;
  async run(m: Model, r: Real): Promise<void> {
    const picked = this.pick(m)!;
    try {
      await this.act(m, r, picked);
    } catch (err) {
      if (err instanceof Error) err.message = `${this.describe().replace(this.client, `#${picked}`)}: ${err.message}`;
      throw err;
    }
  }
  protected get client(): string {
    return `client[${this.who} mod n]`;
  }
  toString = () => this.describe();
}

function register(m: Model, r: Real, who: number, name: string, valid: boolean): Promise<void> {
  return step(m, r, who, { sender: name, text: '' }, () =>
    valid ? claim(m, who, name) : refuse(m, who, 'invalid_name'),
  );
}
/** Connects a new client (the next number) and claims a name at once. */
export class Join implements Cmd {
  constructor(readonly name: string) {}
  check = (m: Readonly<Model>) => m.clients.length < MAX_CLIENTS;
  async run(m: Model, r: Real) {
    await new Connect().run(m, r);
    await register(m, r, m.clients.length - 1, this.name, true);
  }
  toString = () => `connect+register(${show(this.name)})`;
}
export class Register extends AsClient {
  constructor(
    who: number,
    readonly name: string,
    readonly valid: boolean,
  ) {
    super(who);
  }
  fits = (m: Readonly<Model>, i: number) => isState(m, i, 'waiting');
  act = (m: Model, r: Real, who: number) => register(m, r, who, this.name, this.valid);
  describe = () => `register(${this.client}, ${show(this.name)}${this.valid ? '' : ' invalid'})`;
}
export const variants = {
  upper: (s: string) => s.toUpperCase(),
  lower: (s: string) => s.toLowerCase(),
  nfd: (s: string) => s.normalize('NFD'),
  nfdUpper: (s: string) => s.toUpperCase().normalize('NFD'),
  padded: (s: string) => ` \t${s}\u00A0`,
} as const;
/** Claims a case/normalisation variant of a name held: the `nth` session holding one, in join order. */
export class RegisterLike extends AsClient {
  constructor(
    who: number,
    readonly nth: number,
    readonly variant: keyof typeof variants,
  ) {
    super(who);
  }
  fits = (m: Readonly<Model>, i: number) => isState(m, i, 'waiting') && m.online.length > 0;
  act(m: Model, r: Real, who: number) {
    const name = variants[this.variant](at(m.sessions, at(m.online, this.nth % m.online.length)).name);
    return step(m, r, who, { sender: name, text: '' }, () => claim(m, who, name));
  }
  describe = () => `register(${this.client}, ${this.variant}(name of online[${this.nth} mod n]))`;
}
/** A chat frame with valid text; `sender` is absent, null, or some client's name. */
export class Say extends AsClient {
  constructor(
    who: number,
    readonly text: string,
    readonly as: 'none' | 'null' | 'Server' | number,
  ) {
    super(who);
  }
  fits = (m: Readonly<Model>, i: number) =>
    canSend(m, i) && (this.as === 'none' || this.as === 'null' || isState(m, i, 'online'));
  act(m: Model, r: Real, who: number) {
    const sender =
      this.as === 'none'
        ? undefined
        : this.as === 'null'
          ? null
          : this.as === 'Server'
            ? 'Server'
            : m.clients[this.as]?.name || 'Mallory';
    return step(m, r, who, { sender, text: this.text, extra: [1] }, () => say(m, who, this.text));
  }
  describe = () =>
    `say(${this.client}, ${show(this.text)}${typeof this.as === 'number' ? ` as name of #${this.as}` : this.as === 'none' ? '' : ` as ${this.as}`})`;
}
/** The shapes of a new cid: each run's are all different, and none is longer than 64 code points. */
export const cidShapes = {
  plain: (n: number) => `c${n}`,
  digits: (n: number) => String(n),
  emoji: (n: number) => `😀${n}`,
  longest: (n: number) => `${'😀'.repeat(64 - String(n).length)}${n}`,
} as const;
/** A message with a cid its session never sent. */
export class SayWithCid extends AsClient {
  constructor(
    who: number,
    readonly text: string,
    readonly shape: keyof typeof cidShapes,
  ) {
    super(who);
  }
  fits = (m: Readonly<Model>, i: number) => canSend(m, i);
  act(m: Model, r: Real, who: number) {
    const cid = cidShapes[this.shape](++m.cidCount);
    return step(m, r, who, { text: this.text, cid }, () => say(m, who, this.text, cid));
  }
  describe = () => `say(${this.client}, ${show(this.text)}, new ${this.shape} cid)`;
}
/**
 * A message with a new cid, after which the client stops reading at once: its own copy is
 * never processed, so a resume from its position replays it, and a resend is answered with
 * a copy of where it landed.
 */
export class SayThenFreeze extends AsClient {
  constructor(
    who: number,
    readonly text: string,
  ) {
    super(who);
  }
  fits = (m: Readonly<Model>, i: number) => canSend(m, i) && isState(m, i, 'online');
  async act(m: Model, r: Real, who: number) {
    const cid = cidShapes.plain(++m.cidCount);
    at(r.clients, who).sendThenFreeze({ text: this.text, cid });
    await r.settle();
    freeze(m, who);
    say(m, who, this.text, cid);
    verify(m, r);
  }
  describe = () => `say(${this.client}, ${show(this.text)}, new cid) and freeze`;
}
/**
 * A message with a new cid, and the connection dropped straight after, without waiting:
 * in a cluster the message is still on its way when the session starts to wait, so its
 * author gets no copy, and a resume replays it.
 */
export class SayThenDrop extends AsClient {
  constructor(
    who: number,
    readonly text: string,
  ) {
    super(who);
  }
  fits = (m: Readonly<Model>, i: number) => canSend(m, i) && isState(m, i, 'online');
  async act(m: Model, r: Real, who: number) {
    const cid = cidShapes.plain(++m.cidCount);
    const client = at(r.clients, who);
    client.send({ text: this.text, cid });
    client.disconnect(1006);
    await r.settle();
    sayThenLose(m, who, this.text, cid);
    verify(m, r);
  }
  describe = () => `say(${this.client}, ${show(this.text)}, new cid) and drop at once`;
}
/**
 * A message again under a cid its session sent (the `nth` it remembers), on whichever
 * connection it has now: with the same text, as a client resending should, or another.
 */
export class Resend extends AsClient {
  constructor(
    who: number,
    readonly nth: number,
    readonly text: string | null,
  ) {
    super(who);
  }
  fits = (m: Readonly<Model>, i: number) => canSend(m, i) && (sessionOf(m, i)?.cids.size ?? 0) > 0;
  act(m: Model, r: Real, who: number) {
    const cids = [...sessionOf(m, who)!.cids];
    const [cid, seq] = at(cids, this.nth % cids.length);
    const text = this.text ?? at(m.events, seq - 1).text!;
    return step(m, r, who, { text, cid }, () => say(m, who, text, cid));
  }
  describe = () =>
    `resend(${this.client}, cid[${this.nth} mod n]${this.text === null ? '' : `, other text ${show(this.text)}`})`;
}
/** A well-formed frame with blank, too long or missing text, or a bad cid, and no name claim. */
export class SayInvalid extends AsClient {
  constructor(
    who: number,
    readonly data: string,
  ) {
    super(who);
  }
  fits = (m: Readonly<Model>, i: number) => canSend(m, i);
  act = (m: Model, r: Real, who: number) => step(m, r, who, this.data, () => saySomethingInvalid(m, who));
  describe = () => `sayInvalid(${this.client}, ${show(this.data)})`;
}
export class Garbage extends AsClient {
  constructor(
    who: number,
    readonly frames: (string | null)[],
  ) {
    super(who);
  }
  fits = (m: Readonly<Model>, i: number) => canSend(m, i);
  async act(m: Model, r: Real, who: number) {
    for (const data of this.frames) {
      if (!isOpen(m, who)) break; // closed by the 10th: the rest go nowhere
      await step(m, r, who, data, () => badFrame(m, who, 'bad_frame'));
    }
  }
  describe = () => `garbage(${this.client}, ${this.frames.map((f) => (f === null ? 'binary' : show(f))).join(', ')})`;
}
/** The client closes cleanly (1000, 1001, or a close frame without a code): its session ends. */
export class Disconnect extends AsClient {
  constructor(
    who: number,
    readonly code: number = 1000,
  ) {
    super(who);
  }
  fits = (m: Readonly<Model>, i: number) => canSend(m, i);
  async act(m: Model, r: Real, who: number) {
    at(r.clients, who).disconnect(this.code);
    await r.settle();
    end(m, who, null);
    verify(m, r);
  }
  describe = () => `disconnect(${this.client}, ${this.code})`;
}
/** The connection is lost (1006, or a close with a code that is no clean close): the session waits. */
export class Drop extends AsClient {
  constructor(
    who: number,
    readonly code: number,
  ) {
    super(who);
  }
  fits = (m: Readonly<Model>, i: number) => isOpen(m, i);
  async act(m: Model, r: Real, who: number) {
    at(r.clients, who).disconnect(this.code);
    await r.settle();
    lose(m, who);
    verify(m, r);
  }
  describe = () => `drop(${this.client}, ${this.code})`;
}
/** The client sends what ws closes the socket for (1009): a broken rule ends the session at once. */
export class BreakRule extends AsClient {
  fits = (m: Readonly<Model>, i: number) => canSend(m, i);
  async act(m: Model, r: Real, who: number) {
    at(r.clients, who).breakRule();
    await r.settle();
    end(m, who, null);
    verify(m, r);
  }
  describe = () => `breakRule(${this.client})`;
}
/** The client stops reading and sending; its socket stays open and its session attached. */
export class Freeze extends AsClient {
  fits = (m: Readonly<Model>, i: number) => canSend(m, i) && isState(m, i, 'online');
  async act(m: Model, r: Real, who: number) {
    at(r.clients, who).freeze();
    freeze(m, who);
    await r.settle();
    verify(m, r);
  }
  describe = () => `freeze(${this.client})`;
}

/**
 * Whose secret a resume shows: a session's waiting for a resume, any live session's (most
 * are open: a take-over), an ended one's, or one nobody was given.
 */
export type Secret = 'waiting' | 'live' | 'stale' | 'forged';
const forgeries = [
  (secret: string) => `${secret}x`,
  (secret: string) => secret.slice(1),
  (secret: string) => secret.toUpperCase(),
  () => '',
  () => 'A'.repeat(22),
  () => '😀',
] as const;
/** The sessions whose secret (or a forgery of it) a resume can show. */
function secretsOf(m: Readonly<Model>, secret: Secret): number[] {
  switch (secret) {
    case 'waiting':
      return m.online.filter((s) => at(m.sessions, s).conn === null);
    case 'live':
      return m.online;
    case 'stale':
      return m.sessions.flatMap((s, i) => (s.ended ? [i] : []));
    case 'forged':
      return m.sessions.map((_, i) => i);
  }
}

/** The frame of a resume of session `target` with `secret`, giving `since` as the model's position allows. */
function resumeFrame(m: Model, r: Real, target: number, secret: string, since: Since, named: boolean): object {
  const session = at(m.sessions, target);
  const epoch = r.keys.get(target)?.epoch ?? '';
  const position = { since: idOf(r, session.position) };
  const frame = { text: '', ...(named ? { sender: session.name } : {}) };
  switch (since) {
    case 'none':
      return { ...frame, session: secret };
    case 'last':
      return { ...frame, session: secret, epoch, ...position };
    case 'lastNoEpoch':
      return { ...frame, session: secret, ...position };
    case 'lastWrongEpoch':
      return { ...frame, session: secret, epoch: `${epoch}-other`, ...position };
    case 'notAPosition':
      return { ...frame, session: secret, epoch, since: ['abc', '-1', '01', '1.0', ''][target % 5] };
    case 'future':
      return { ...frame, session: secret, epoch, since: String(Number.MAX_SAFE_INTEGER) };
  }
}
/** A resume of the `nth` session of those `secret` can show, as client `who`. */
function resumeAs(m: Model, r: Real, who: number, secret: Secret, nth: number, since: Since): Promise<void> {
  const pool = secretsOf(m, secret);
  const target = at(pool, nth % pool.length);
  const known = r.keys.get(target)?.secret ?? '';
  const shown = secret === 'forged' ? at(forgeries, nth % forgeries.length)(known) : known;
  const frame = resumeFrame(m, r, target, shown, since, nth % 2 === 0);
  return step(m, r, who, frame, () => resume(m, who, secret === 'forged' ? null : target, since));
}
/**
 * A first frame that names a session instead of a name: `nth` picks which of the live (or
 * ended) sessions; a forged secret is made from one of them, or from nothing.
 */
export class Resume extends AsClient {
  constructor(
    who: number,
    readonly secret: Secret,
    readonly nth: number,
    readonly since: Since,
  ) {
    super(who);
  }
  fits = (m: Readonly<Model>, i: number) => isState(m, i, 'waiting') && secretsOf(m, this.secret).length > 0;
  act = (m: Model, r: Real, who: number) => resumeAs(m, r, who, this.secret, this.nth, this.since);
  describe = () => `resume(${this.client}, ${this.secret} secret of session[${this.nth} mod n], since ${this.since})`;
}
/** Connects a new client (the next number) and resumes at once: a client back after losing its connection. */
export class Rejoin implements Cmd {
  constructor(
    readonly secret: Secret,
    readonly nth: number,
    readonly since: Since,
  ) {}
  check = (m: Readonly<Model>) => m.clients.length < MAX_CLIENTS && secretsOf(m, this.secret).length > 0;
  async run(m: Model, r: Real) {
    await new Connect().run(m, r);
    await resumeAs(m, r, m.clients.length - 1, this.secret, this.nth, this.since);
  }
  toString = () => `connect+resume(${this.secret} secret of session[${this.nth} mod n], since ${this.since})`;
}

/**
 * The window of every session it ran out for is over: their leaves come, in an order the
 * model leaves open (in a cluster, each node announces its own), so it is read off the
 * chat, and must hold exactly those.
 */
function expire(m: Model, r: Real): void {
  const due = dueToExpire(m);
  const leaves = unmatched(r).map(({ frame }) => (frame.type === 'leave' ? frame.name : null));
  const order = due.map((s) => at(m.sessions, s).name);
  const inRealOrder =
    leaves.length === due.length && [...leaves].sort().join('\n') === [...order].sort().join('\n')
      ? leaves.map((name) => due.find((s) => at(m.sessions, s).name === name)!)
      : due;
  for (const s of inRealOrder) endSession(m, s);
}
export class Tick implements Cmd {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    r.chat.clock.increment(this.ms);
    await r.settle();
    m.now += this.ms;
    expire(m, r);
    verify(m, r);
  }
  toString = () => `tick(${this.ms})`;
}
/** Moves the clock to just before, at or just past the end of the `nth` waiting session's window. */
export class TickToWindowEnd implements Cmd {
  constructor(
    readonly nth: number,
    readonly offset: -1 | 0 | 1,
  ) {}
  check = (m: Readonly<Model>) => m.online.some((s) => at(m.sessions, s).conn === null);
  async run(m: Model, r: Real) {
    const waiting = m.online.filter((s) => at(m.sessions, s).conn === null);
    const session = at(m.sessions, at(waiting, this.nth % waiting.length));
    await new Tick(Math.max(0, session.lostAt + m.windowMs + this.offset - m.now)).run(m, r);
  }
  toString = () =>
    `tick to ${['just before', 'the end of', 'just after'][this.offset + 1]} the window of waiting[${this.nth} mod n]`;
}

/**
 * The end of a run, checked like any step: every open client closes cleanly and every
 * window runs out, so that every session ends with exactly one leave and no name is left
 * held (in a cluster, the next run starts with nobody online).
 */
export async function endEverything(m: Model, r: Real): Promise<void> {
  for (const [who, c] of m.clients.entries()) {
    if (c.state === 'gone') continue;
    at(r.clients, who).disconnect(1000);
    await r.settle();
    end(m, who, null);
    verify(m, r);
  }
  await new Tick(m.windowMs).run(m, r);
  if (m.online.length > 0) throw new Error(`sessions still live at the end: ${JSON.stringify(m.online)}`);
}

/** Runs `cmds` against the model and chat `setup` makes, then ends everything (endEverything). */
export async function runToTheEnd(setup: () => { model: Model; real: Real }, cmds: Iterable<Cmd>): Promise<void> {
  let started: { model: Model; real: Real } | null = null;
  await fc.asyncModelRun(() => (started = setup()), cmds);
  const { model, real } = started!;
  await endEverything(model, real);
}
