/**
 * What the model run's commands are drawn from: names chosen to collide or to be refused,
 * valid and invalid texts, garbage frames, and the weighted mix of commands itself.
 */
import fc from 'fast-check';
import { isSendable } from '../support/expected.js';
import { CLEAN_CLOSES, DROPS, fold, MAX_CLIENTS, type Model, type Since } from './chat-model.js';
import type { Real } from './real-chat.js';
import {
  BreakRule,
  cidShapes,
  Connect,
  Disconnect,
  Drop,
  Freeze,
  Garbage,
  Join,
  Register,
  RegisterLike,
  Rejoin,
  Resend,
  Resume,
  Say,
  SayInvalid,
  SayThenDrop,
  SayThenFreeze,
  SayWithCid,
  Tick,
  TickToWindowEnd,
  variants,
  type Secret,
} from './chat-commands.js';

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
  { weight: 8, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).filter(isSendable) },
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
    // PROTOCOL.md: a cid is 1 to 64 code points.
    '{"text":"hi","cid":""}',
    JSON.stringify({ text: 'hi', cid: '😀'.repeat(65) }),
    JSON.stringify({ text: 'hi', cid: 'x'.repeat(65) }),
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
  // The session fields have types too.
  fc.constantFrom(
    '{"text":"hi","cid":7}',
    '{"text":"","session":7}',
    '{"text":"","session":"x","since":41}',
    '{"sender":"Bob","text":"","history":-1}',
    '{"sender":"Bob","text":"","history":"3"}',
    '{"text":"","epoch":[]}',
  ),
);
const who = fc.nat({ max: MAX_CLIENTS - 1 });
const nth = fc.nat({ max: 20 });
const secret = fc.constantFrom<Secret>('waiting', 'waiting', 'waiting', 'waiting', 'live', 'live', 'stale', 'forged');
const since = fc.constantFrom<Since>(
  'last',
  'last',
  'last',
  'last',
  'last',
  'last',
  'none',
  'lastNoEpoch',
  'lastWrongEpoch',
  'notAPosition',
  'future',
);
type Weighted = { weight: number; arbitrary: fc.Arbitrary<fc.AsyncCommand<Model, Real>> };
/** The chat of SPEC §2–§5: names, messages, bad input, clean closes. */
const chatting: Weighted[] = [
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
  { weight: 2, arbitrary: fc.tuple(who, fc.constantFrom(...CLEAN_CLOSES)).map(([w, c]) => new Disconnect(w, c)) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 5_000 }).map((ms) => new Tick(ms)) },
];
/** Sessions (SPEC §8): connections lost and frozen, resumes, resends, windows running out. */
const sessions: Weighted[] = [
  { weight: 6, arbitrary: fc.tuple(who, fc.constantFrom(...DROPS)).map(([w, c]) => new Drop(w, c)) },
  { weight: 1, arbitrary: who.map((w) => new BreakRule(w)) },
  { weight: 2, arbitrary: who.map((w) => new Freeze(w)) },
  { weight: 8, arbitrary: fc.tuple(secret, nth, since).map(([s, n, p]) => new Rejoin(s, n, p)) },
  { weight: 2, arbitrary: fc.tuple(who, secret, nth, since).map(([w, s, n, p]) => new Resume(w, s, n, p)) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(who, validText, fc.constantFrom(...(Object.keys(cidShapes) as (keyof typeof cidShapes)[])))
      .map(([w, t, c]) => new SayWithCid(w, t, c)),
  },
  { weight: 2, arbitrary: fc.tuple(who, validText).map(([w, t]) => new SayThenFreeze(w, t)) },
  { weight: 2, arbitrary: fc.tuple(who, validText).map(([w, t]) => new SayThenDrop(w, t)) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(who, nth, fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: validText }))
      .map(([w, n, t]) => new Resend(w, n, t)),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(nth, fc.constantFrom<-1 | 0 | 1>(-1, 0, 1)).map(([n, o]) => new TickToWindowEnd(n, o)),
  },
  { weight: 1, arbitrary: fc.integer({ min: 5_000, max: 70_000 }).map((ms) => new Tick(ms)) },
];
export const commands = [fc.oneof(...chatting, ...sessions)];
/** Without the session commands: for a mode that does not have sessions yet. */
export const commandsWithoutSessions = [fc.oneof(...chatting)];
