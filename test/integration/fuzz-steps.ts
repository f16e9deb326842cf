/**
 * What the fuzz test's clients do, as fast-check arbitraries: hostile frames (random bytes,
 * arbitrary Unicode, random JSON, deep nesting, huge numbers, tricky keys, oversize frames),
 * legitimate chat, and hostile connections dropped.
 */
import fc from 'fast-check';
import { isSendable } from '../support/expected.js';
import { MAX_PAYLOAD, TEXT_MAX } from './fuzz-oracle.js';

export const SLOTS = 3;

/** A frame as it goes on the wire. */
export type Wire = { binary: boolean; bytes: Buffer; label: string };

const text = (data: string, label = 'text'): Wire => ({ binary: false, bytes: Buffer.from(data), label });
const rawJsonObject = (entries: Array<[string, unknown]>) =>
  // Written by hand so that a `__proto__` key stays an own key on the wire, as a client may send it.
  `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value) ?? 'null'}`).join(',')}}`;

const trickyKeys = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'sender',
  'text',
  'type',
  'id',
);
const trickyStrings = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }), // any code point, lone surrogates included
  fc.constantFrom(
    '',
    '   ',
    '\u0000',
    '\u202Eevil',
    '\u200B',
    'Server',
    '\ud800',
    '\udfff',
    'x'.repeat(TEXT_MAX + 1),
    '😀'.repeat(TEXT_MAX),
  ),
);
const values = fc.oneof(fc.jsonValue({ maxDepth: 3 }), trickyStrings, fc.constantFrom(1e308, -0, 2 ** 53 + 1));

const hostileFrame: fc.Arbitrary<Wire> = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((b) => ({ binary: true, bytes: Buffer.from(b), label: 'binary' })),
  fc.uint8Array({ maxLength: 64 }).map((b) => ({ binary: false, bytes: Buffer.from(b), label: 'raw bytes as text' })),
  fc.string({ unit: 'binary', maxLength: 80 }).map((s) => text(s, 'arbitrary unicode')),
  fc.json({ maxDepth: 4 }).map((s) => text(s, 'random JSON')),
  fc.integer({ min: 1, max: 20_000 }).map((n) => text('['.repeat(n) + ']'.repeat(n), `nested ${n} deep`)),
  fc
    .constantFrom('1e999999', '-1e-999999', '9'.repeat(5_000), '{"text":1e400}', '{"sender":1e999,"text":"x"}')
    .map((s) => text(s, 'huge number')),
  fc
    .array(fc.tuple(trickyKeys, values), { maxLength: 4 })
    .map((entries) => text(rawJsonObject(entries), 'tricky keys')),
  fc.record({ text: trickyStrings }).map((frame) => text(JSON.stringify(frame), 'text only')),
  fc.constant(text(`{"text":"${'x'.repeat(MAX_PAYLOAD)}"}`, 'over the payload limit')),
);

export type Step =
  | { kind: 'hostile'; slot: number; register: boolean; frame: Wire }
  | { kind: 'legit'; who: 0 | 1; text: string }
  | { kind: 'drop'; slot: number; how: 'close' | 'terminate' };

const legitText = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).filter(isSendable);
export const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('hostile' as const),
      slot: fc.nat(SLOTS - 1),
      register: fc.boolean(),
      frame: hostileFrame,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('legit' as const),
      who: fc.constantFrom(0 as const, 1 as const),
      text: legitText,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('drop' as const),
      slot: fc.nat(SLOTS - 1),
      how: fc.constantFrom('close' as const, 'terminate' as const),
    }),
  },
);
