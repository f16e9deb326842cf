/**
 * One fuzz run: two legitimate clients and the hostile slots play the steps, then every
 * connection is checked against what the oracle (fuzz-oracle.ts) predicts.
 */
import { expect } from 'vitest';
import { DEFAULT_WAIT_MS, TestSocket, type Frame } from '../support/ws-client.js';
import { claim } from '../support/test-server.js';
import { judge, MAX_BAD_FRAMES } from './fuzz-oracle.js';
import { SLOTS, type Step } from './fuzz-steps.js';

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

export async function run(url: string, tag: string, steps: Step[]): Promise<void> {
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
