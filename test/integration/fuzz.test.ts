/**
 * Fuzzing over real sockets (SPEC §5: "no input a client can send makes the process crash,
 * leak memory or stall others").
 *
 * Each run opens two legitimate clients and up to three hostile slots. Hostile connections
 * (some registered, some not) send arbitrary frames: random bytes as binary and as text,
 * arbitrary Unicode with lone surrogates, random JSON, deep nesting, huge numbers, keys such
 * as `__proto__` and `constructor`, wrong field types, oversize frames. The legitimate
 * clients chat in between. A small oracle, written from SPEC §3 and §5 (not from src/),
 * says what each hostile frame must earn: an error code, a chat message, or a close.
 *
 * After every run: each hostile connection got exactly its errors and close code; both
 * legitimate clients saw the same sequence, which holds exactly the joins, messages and
 * leaves the oracle predicts, each source in its own order. After all runs: a newcomer
 * registers and chats, and the server's heap after GC has not run away.
 */
import fc from 'fast-check';
import { isUtf8 } from 'node:buffer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asDelivered, hasContent } from '../support/expected.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { claim, DEFAULT_WAIT_MS, TestSocket, type Frame } from '../support/ws-client.js';

const MAX_BAD_FRAMES = 10; // SPEC §5
const TEXT_MAX = 4096; // SPEC §3, code points
const MAX_PAYLOAD = 65_536; // SPEC §5, bytes
const SLOTS = 3;
const RUNS = Number(process.env.FUZZ_RUNS ?? 25); // about 3,000 frames; FUZZ_RUNS=500 for a long hunt

// ---------------------------------------------------------------- what hostile clients send

/** A frame as it goes on the wire. */
type Wire = { binary: boolean; bytes: Buffer; label: string };

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

type Step =
  | { kind: 'hostile'; slot: number; register: boolean; frame: Wire }
  | { kind: 'legit'; who: 0 | 1; text: string }
  | { kind: 'drop'; slot: number; how: 'close' | 'terminate' };

const legitText = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).filter(hasContent);
const step: fc.Arbitrary<Step> = fc.oneof(
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

// ---------------------------------------------------------------- the oracle (SPEC §3, §5)

type Verdict =
  | { kind: 'error'; code: 'bad_frame' | 'not_registered' | 'invalid_message'; counts: boolean }
  | { kind: 'message'; text: string }
  | { kind: 'close'; code: 1009 }
  /** Would ask for a name: left out, so that this oracle needs no name rules. */
  | { kind: 'skip' };

function judge(wire: Wire, registered: boolean): Verdict {
  if (wire.bytes.length > MAX_PAYLOAD) return { kind: 'close', code: 1009 };
  const bad = { kind: 'error', code: 'bad_frame', counts: true } as const;
  if (wire.binary || !isUtf8(wire.bytes)) return bad;
  let value: unknown;
  try {
    value = JSON.parse(wire.bytes.toString('utf8'));
  } catch {
    return bad;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad;
  const field = (key: string) => (Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined);
  const sender = field('sender');
  const body = field('text');
  const wrongType = (v: unknown) => v !== undefined && v !== null && typeof v !== 'string';
  if (wrongType(sender) || wrongType(body)) return bad;
  if (!registered) {
    return typeof sender === 'string' ? { kind: 'skip' } : { kind: 'error', code: 'not_registered', counts: true };
  }
  const chat = typeof body === 'string' ? body : '';
  if (!hasContent(chat) || [...chat].length > TEXT_MAX)
    return { kind: 'error', code: 'invalid_message', counts: false };
  return { kind: 'message', text: asDelivered(chat) };
}

// ---------------------------------------------------------------- one run

interface Hostile {
  socket: TestSocket;
  name: string | null;
  badFrames: number;
  /** Error codes this connection must receive, in order. */
  errors: string[];
  /** Close code the server must end it with, once the oracle says so. */
  closeCode: number | null;
  /** True once no more frames may go to it (closed by the server or by us). */
  done: boolean;
  /** Dropped by us without a closing handshake: replies still in flight are lost. */
  cutOff: boolean;
  /** What it sent, for the failure message. */
  sent: string[];
}

/** A broadcast as every legitimate client must see it: ids and times left out. */
type Seen = { type: string; who: string; text?: string };

const key = (s: Seen) => JSON.stringify([s.type, s.who, s.text ?? null]);

/** What `expected` holds that `seen` does not, counting repeats. */
function missing(expected: Seen[], seen: Seen[]): string[] {
  const left = expected.map(key);
  for (const k of seen.map(key)) left.splice(left.indexOf(k), left.indexOf(k) === -1 ? 0 : 1);
  return left;
}

async function run(url: string, tag: string, steps: Step[]): Promise<void> {
  const legitNames = [`A${tag}`, `B${tag}`] as const;
  const legit = [
    await TestSocket.open(url, { label: legitNames[0] }),
    await TestSocket.open(url, { label: legitNames[1] }),
  ];
  await claim(legit[0]!, legitNames[0]);
  await claim(legit[1]!, legitNames[1]);
  expect((await legit[0]!.nextFrame()).type).toBe('join'); // B's join

  const expected: Seen[] = []; // what both legitimate clients must see, as a multiset
  const slots: Array<Hostile | null> = Array.from({ length: SLOTS }, () => null);
  const everyHostile: Hostile[] = [];
  let generation = 0;

  const end = (h: Hostile) => {
    h.done = true;
    if (h.name !== null) expected.push({ type: 'leave', who: h.name });
  };
  const open = async (slot: number, register: boolean): Promise<Hostile> => {
    const socket = await TestSocket.open(url, { label: `hostile ${slot}` });
    const h: Hostile = {
      socket,
      name: null,
      badFrames: 0,
      errors: [],
      closeCode: null,
      done: false,
      cutOff: false,
      sent: [],
    };
    if (register) {
      h.name = `H${tag}x${slot}x${generation++}`;
      await claim(socket, h.name);
      expected.push({ type: 'join', who: h.name });
    }
    everyHostile.push(h);
    slots[slot] = h;
    return h;
  };

  for (const s of steps) {
    if (s.kind === 'legit') {
      legit[s.who]!.send({ sender: legitNames[1 - s.who], text: s.text }); // a spoofed sender, ignored
      expected.push({ type: 'message', who: legitNames[s.who], text: s.text });
      continue;
    }
    const current = slots[s.slot] ?? null;
    if (s.kind === 'drop') {
      if (current === null || current.done) continue;
      if (s.how === 'close') current.socket.close();
      else current.socket.terminate();
      current.cutOff = s.how === 'terminate';
      end(current);
      continue;
    }
    const h = current === null || current.done ? await open(s.slot, s.register) : current;
    const verdict = judge(s.frame, h.name !== null);
    if (verdict.kind === 'skip') continue;
    h.socket.ws.send(s.frame.bytes, { binary: s.frame.binary });
    h.sent.push(`${s.frame.label}: ${s.frame.bytes.toString('utf8', 0, 60)}`);
    switch (verdict.kind) {
      case 'close':
        h.closeCode = verdict.code;
        end(h);
        break;
      case 'message':
        expected.push({ type: 'message', who: h.name!, text: verdict.text });
        break;
      case 'error':
        h.errors.push(verdict.code);
        if (verdict.counts && ++h.badFrames >= MAX_BAD_FRAMES) {
          h.closeCode = 1008;
          end(h);
        }
        break;
    }
  }
  for (const h of everyHostile) {
    if (h.done) continue;
    h.socket.close();
    end(h);
  }

  // Every hostile connection: exactly its errors (broadcasts to it are not checked), then its close.
  for (const h of everyHostile) {
    if (h.cutOff) {
      await h.socket.waitClose();
      const errors = h.socket
        .unread()
        .filter((frame) => frame.type === 'error')
        .map((frame) => frame.code);
      expect(errors, 'errors before the cut').toEqual(h.errors.slice(0, errors.length));
      continue;
    }
    const errors: string[] = [];
    const who = `${h.name ?? 'an unnamed hostile'} (sent ${JSON.stringify(h.sent)})`;
    while (errors.length < h.errors.length) {
      const frame = await h.socket
        .nextFrame(DEFAULT_WAIT_MS, `error ${errors.length + 1} of ${h.errors.length} for ${who}`)
        .catch(async (err: Error) => {
          const closed = await h.socket.waitClose();
          throw new Error(`${err.message}; closed with ${closed.code} ${closed.reason}; got ${JSON.stringify(errors)}`);
        });
      if (frame.type === 'error') errors.push(String(frame.code));
    }
    expect(errors, `errors for ${h.name ?? 'an unnamed hostile'}`).toEqual(h.errors);
    const closed = await h.socket.waitClose();
    if (h.closeCode !== null) expect(closed.code, `close code for ${h.name ?? 'an unnamed hostile'}`).toBe(h.closeCode);
    expect(h.socket.unread().filter((frame) => frame.type === 'error')).toEqual([]);
  }

  // Messages a hostile sent just before we cut its connection may be lost with it (the
  // reset can discard what the server had not read yet); everything else must arrive.
  const cut = new Set(everyHostile.filter((h) => h.cutOff && h.name !== null).map((h) => h.name!));
  const mayBeLost = (s: Seen) => s.type === 'message' && cut.has(s.who);
  const required = expected.filter((s) => !mayBeLost(s));

  // Both legitimate clients: the same sequence, holding exactly what the oracle expects.
  const sequences: Seen[][] = [];
  for (const [i, socket] of legit.entries()) {
    const seen: Seen[] = [];
    let lastId = -1;
    // A cut connection's leave follows whatever of its messages got through, so once every
    // required frame is here, nothing of this run is still on its way.
    while (seen.filter((s) => !mayBeLost(s)).length < required.length) {
      const frame: Frame = await socket
        .nextFrame(DEFAULT_WAIT_MS, `the broadcasts for ${legitNames[i]}`)
        .catch((err: Error) => {
          throw new Error(`${err.message}; missing ${JSON.stringify(missing(required, seen))}`);
        });
      if (frame.type === 'message') {
        const id = Number(frame.id);
        expect(id).toBeGreaterThan(lastId);
        lastId = id;
        seen.push({
          type: 'message',
          who: typeof frame.sender === 'string' ? frame.sender : legitNames[i]!,
          text: String(frame.text),
        });
      } else {
        seen.push({ type: String(frame.type), who: String(frame.name) });
      }
    }
    sequences.push(seen);
  }
  expect(sequences[1]).toEqual(sequences[0]);
  // Each source: exactly what it caused, in the order it caused it (a cut one: a prefix of
  // its messages, then its leave).
  const bySource = (list: Seen[]) => {
    const groups = new Map<string, Seen[]>();
    for (const seen of list) groups.set(seen.who, [...(groups.get(seen.who) ?? []), seen]);
    return groups;
  };
  const want = bySource(expected);
  const got = bySource(sequences[0]!);
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [who, wanted] of want) {
    const list = got.get(who)!;
    if (!cut.has(who)) {
      expect(list, `what ${who} caused`).toEqual(wanted);
      continue;
    }
    const messages = list.slice(1, -1);
    expect([list[0], list.at(-1)], `join and leave of ${who}`).toEqual([wanted[0], wanted.at(-1)]);
    expect(messages, `messages of ${who}`).toEqual(wanted.slice(1, 1 + messages.length));
  }

  // Nothing more is due: a last message is the next thing both see.
  legit[0]!.send({ text: `fence ${tag}` });
  expect((await legit[1]!.nextFrame()).text).toBe(`fence ${tag}`);
  expect((await legit[0]!.nextFrame()).text).toBe(`fence ${tag}`);
  for (const socket of legit) socket.close();
  await Promise.all(legit.map((socket) => socket.waitClose()));
}

// ---------------------------------------------------------------- the test

describe('fuzzing over real sockets (SPEC §5)', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess({ rateBurst: 0 });
  });
  afterAll(async () => server?.stop());

  it('survives arbitrary frames from hostile clients, and the others see exactly what they should', async () => {
    let runs = 0;
    let frames = 0;
    const fuzz = (numRuns: number) =>
      fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 100, maxLength: 300 }), async (steps) => {
          runs++;
          frames += steps.filter((s) => s.kind !== 'drop').length;
          await run(server.url, String(runs), steps);
        }),
        { numRuns, endOnFailure: process.env.FUZZ_NO_SHRINK === '1' },
      );
    // Warm up first, so that code compiled and caches filled on first use do not count as growth.
    await fuzz(3);
    const before = await server.memory();
    await fuzz(RUNS);

    const newcomer = await TestSocket.open(server.url, { label: 'Newcomer' });
    await claim(newcomer, 'Newcomer');
    newcomer.send({ text: 'still standing' });
    expect(await newcomer.nextFrame()).toMatchObject({ type: 'message', text: 'still standing' });
    newcomer.close();
    await newcomer.waitClose();

    const after = await server.memory();
    const growthMb = (after.heapAfterGcBytes - before.heapAfterGcBytes) / 1048576;
    console.log(
      `fuzz: ${runs} runs, ${frames} frames, heap after GC ${(before.heapAfterGcBytes / 1048576).toFixed(1)} -> ${(after.heapAfterGcBytes / 1048576).toFixed(1)} MB`,
    );
    // Hundreds of connections came and went; what they left behind must not add up.
    expect(growthMb).toBeLessThan(2);
  }, 120_000);
});
