/**
 * The commands of the model run: each sends something as one client (or disconnects it, or
 * moves the clock), lets the model predict, then checks the real chat against it. Every
 * command waits for `settle()` before checking: at once in memory; in cluster mode until
 * every Redis round trip it caused, and every delivery, is done.
 */
import type fc from 'fast-check';
import {
  at,
  badFrame,
  claim,
  end,
  MAX_CLIENTS,
  refuse,
  say,
  saySomethingInvalid,
  type Client,
  type Model,
} from './chat-model.js';
import { verify, type Real } from './real-chat.js';

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

export class Connect implements Cmd {
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
export class Join implements Cmd {
  constructor(readonly name: string) {}
  check = (m: Readonly<Model>) => m.clients.length < MAX_CLIENTS;
  async run(m: Model, r: Real) {
    await new Connect().run(m, r);
    await new Register(m.clients.length - 1, this.name, true).run(m, r);
  }
  toString = () => `connect+register(${show(this.name)})`;
}
export class Register implements Cmd {
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
export const variants = {
  upper: (s: string) => s.toUpperCase(),
  lower: (s: string) => s.toLowerCase(),
  nfd: (s: string) => s.normalize('NFD'),
  nfdUpper: (s: string) => s.toUpperCase().normalize('NFD'),
  padded: (s: string) => ` \t${s}\u00A0`,
} as const;
/** Claims a case/normalisation variant of a name in use: the `nth` online, in join order. */
export class RegisterLike implements Cmd {
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
export class Say implements Cmd {
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
export class SayInvalid implements Cmd {
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
export class Garbage implements Cmd {
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
export class Disconnect implements Cmd {
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
export class Tick implements Cmd {
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
