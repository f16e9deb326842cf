/**
 * The model for model-based tests of the whole socket-free chat (real hub,
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
 * The real side is test/model/real-chat.ts, the commands test/model/chat-commands.ts, and
 * what they are drawn from test/model/chat-generators.ts.
 */

export const MAX_CLIENTS = 10;
const MAX_REFUSALS = 5; // SPEC §2
const MAX_BAD_FRAMES = 10; // SPEC §5; PROTOCOL.md: not_registered counts as one
/** The limits the model assumes: no rate limit, timers out of reach. */
export const MODEL_LIMITS = { rateBurst: 0, registerTimeoutMs: 1e9, heartbeatMs: 1e9 };

/** The name as shown (NFC, trimmed) and the key it is unique under (SPEC §2). Plain
 * lower-casing suffices because the name pools avoid ß, final sigma and the like. */
const shown = (raw: string) => raw.normalize('NFC').trim();
export const fold = (raw: string) => shown(raw).toLowerCase();

export type Frame = Record<string, unknown>;
interface Owed {
  frame: Frame;
  seq?: number;
} // seq: the model's number for a message
export interface Client {
  state: 'waiting' | 'online' | 'gone';
  name: string;
  refusals: number;
  badFrames: number;
  policyClosed: boolean;
  owed: Owed[];
}
export interface Model {
  clients: Client[];
  online: number[];
  now: number;
  seq: number;
}

export const at = <T>(xs: readonly T[], i: number): T => {
  const x = xs[i];
  if (x === undefined) throw new Error(`no element ${i}`);
  return x;
};
const owe = (m: Model, i: number, frame: Frame, seq?: number) =>
  at(m.clients, i).owed.push(seq === undefined ? { frame } : { frame, seq });
const toAll = (m: Model, but: number, frame: Frame, seq?: number) =>
  m.online.filter((i) => i !== but).forEach((i) => owe(m, i, frame, seq));
const error = (code: string): Frame => ({ type: 'error', sender: 'Server', code });

export function end(m: Model, who: number, policy: boolean): void {
  const c = at(m.clients, who);
  if (c.state === 'online') {
    m.online = m.online.filter((i) => i !== who);
    toAll(m, who, { type: 'leave', sender: 'Server', text: `${c.name} has left the chat`, name: c.name });
  }
  c.state = 'gone';
  c.policyClosed = policy;
}
export function refuse(m: Model, who: number, code: 'invalid_name' | 'name_taken'): void {
  const c = at(m.clients, who);
  owe(m, who, error(code));
  if (++c.refusals >= MAX_REFUSALS) end(m, who, true);
}
export function badFrame(m: Model, who: number, code: 'bad_frame' | 'not_registered'): void {
  const c = at(m.clients, who);
  owe(m, who, error(code));
  if (++c.badFrames >= MAX_BAD_FRAMES) end(m, who, true);
}
export function claim(m: Model, who: number, raw: string): void {
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
export function say(m: Model, who: number, text: string): void {
  const c = at(m.clients, who);
  if (c.state === 'waiting') return badFrame(m, who, 'not_registered');
  const seq = ++m.seq;
  toAll(m, who, { type: 'message', sender: c.name, text, ts: m.now }, seq);
  owe(m, who, { type: 'message', text, ts: m.now }, seq); // echo 'anonymous': no sender
}
/** A well-formed frame without a usable text, sent by a client that is not naming itself. */
export function saySomethingInvalid(m: Model, who: number): void {
  if (at(m.clients, who).state === 'waiting') return badFrame(m, who, 'not_registered');
  owe(m, who, error('invalid_message'));
}
