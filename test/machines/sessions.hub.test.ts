/**
 * Sessions through the hub (SPEC §8): positions, keeping a session when its connection is
 * lost, resuming it with a replay of exactly what was missed, taking it over, history on
 * arrival, `cid` resends and the bounds. Through the socket-free chat (real hub, real
 * connection and session actors, real fan-out loop, simulated clock); secrets are
 * predictable (test/support/hub-input.ts): the Nth name claimed gets `secret-N`.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromCallback } from 'xstate';
import { hubMachine } from '../../machines/hub.machine.js';
import type { BusRequest, HubEmitted, HubEvent, RegistryRequest } from '../../machines/events.js';
import type { ChatEvent, ServerFrame } from '../../src/frames.js';
import {
  createChat,
  defaultLimits,
  errorCodes,
  isOpen,
  type ChatOptions,
  type TestClient,
} from '../support/chat-harness.js';
import { TEST_EPOCH } from '../support/hub-input.js';

const WINDOW_MS = 30_000;

/**
 * A chat whose sessions wait WINDOW_MS for a resume, unless `options.sessions` says
 * otherwise. Its heartbeat is a day unless `options.limits` says otherwise: clients that
 * never answer a ping would be lost after two beats, and a test that runs the clock over
 * several windows would watch nobody.
 */
function sessionChat(options: ChatOptions = {}) {
  const chat = createChat({
    ...options,
    limits: { heartbeatMs: 24 * 3_600_000, ...options.limits },
    sessions: { resumeWindowMs: WINDOW_MS, ...options.sessions },
  });
  const ended: Array<Extract<HubEmitted, { type: 'session.ended' }>> = [];
  chat.hub.on('session.ended', (event) => ended.push(event));
  /** A new connection whose first frame names a session. */
  function resume(secret: string, fields: { epoch?: string; since?: string } = {}): TestClient {
    const client = chat.open();
    client.send({ sender: 'Mallory', text: '', session: secret, ...fields });
    return client;
  }
  return { ...chat, ended, resume };
}

const leaves = (frames: ServerFrame[]) => frames.filter((f) => f.type === 'leave').map((f) => f.name);
const joinsAndLeaves = (frames: ServerFrame[]) => frames.filter((f) => f.type === 'join' || f.type === 'leave');
const resumedWelcome = (name: string, users: string[], session: string, recovered: boolean): ServerFrame => ({
  type: 'welcome',
  sender: 'Server',
  text: `Welcome, ${name}!`,
  name,
  users,
  session,
  epoch: TEST_EPOCH,
  resumed: true,
  recovered,
});
const idOf = (frame: ServerFrame | undefined) => (frame !== undefined && 'id' in frame ? frame.id : undefined);

describe('positions', () => {
  it('numbers joins, messages and leaves in one growing sequence, each with its time', () => {
    const chat = sessionChat();
    const alice = chat.join('Alice');
    chat.clock.increment(5);
    const bob = chat.join('Bob');
    chat.clock.increment(2);
    alice.send({ text: 'hi' });
    chat.clock.increment(2);
    bob.disconnect(1000);
    expect(alice.take()).toStrictEqual([
      { type: 'join', sender: 'Server', text: 'Bob has joined the chat', name: 'Bob', id: '2', ts: 5 },
      { type: 'message', text: 'hi', id: '3', ts: 7 },
      { type: 'leave', sender: 'Server', text: 'Bob has left the chat', name: 'Bob', id: '4', ts: 9 },
    ]);
  });

  it('welcomes with a secret of its own and the epoch, and nothing about a resume', () => {
    const chat = sessionChat();
    const alice = chat.open();
    alice.send({ sender: 'Alice', text: '' });
    const bob = chat.open();
    bob.send({ sender: 'Bob', text: '' });
    expect(alice.take().slice(0, 1)).toStrictEqual([
      {
        type: 'welcome',
        sender: 'Server',
        text: 'Welcome, Alice!',
        name: 'Alice',
        users: ['Alice'],
        session: 'secret-1',
        epoch: TEST_EPOCH,
        id: '1',
        ts: 0,
      },
    ]);
    expect(bob.take()[0]).toMatchObject({ type: 'welcome', session: 'secret-2', epoch: TEST_EPOCH });
  });
});

describe('a lost connection keeps its session', () => {
  it.each([
    ['dropped (1006)', (c: TestClient) => c.disconnect(1006)],
    ['closed by the client with a code of its own (4000)', (c: TestClient) => c.disconnect(4000)],
    ['kicked as a slow consumer', (c: TestClient) => c.actor.send({ type: 'server.kick', cause: 'slow' })],
  ])('%s: nobody hears it left and its name stays taken', (_, lose) => {
    const chat = sessionChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    lose(alice);
    expect(bob.take()).toEqual([]);
    expect(chat.roster()).toEqual(['Alice', 'Bob']);
    const other = chat.open();
    other.send({ sender: 'alice', text: '' });
    expect(errorCodes(other.take())).toEqual(['name_taken']);
    expect(chat.ended).toEqual([]);
  });

  it('a missed heartbeat: nobody hears it left, and it resumes', () => {
    const chat = sessionChat({ limits: { heartbeatMs: defaultLimits.heartbeatMs } });
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    alice.take();
    chat.clock.increment(defaultLimits.heartbeatMs);
    bob.pong();
    chat.clock.increment(defaultLimits.heartbeatMs);
    expect(alice.ending).toEqual({ kind: 'terminate' });
    expect(isOpen(bob)).toBe(true);
    expect(bob.take()).toEqual([]);
    const back = chat.resume('secret-1', { epoch: TEST_EPOCH, since: '2' });
    expect(back.take()).toEqual([resumedWelcome('Alice', ['Alice', 'Bob'], 'secret-1', true)]);
  });

  it('resumed within the window: the welcome, exactly what was missed as replays, then live frames', () => {
    const chat = sessionChat();
    const alice = chat.join('Alice'); // join #1
    const bob = chat.join('Bob'); // join #2
    chat.clock.increment(100);
    alice.send({ text: 'seen', cid: 'a1' }); // #3
    alice.send({ text: 'unconfirmed', cid: 'a2' }); // #4: its copy was lost with the connection
    alice.disconnect(1006);
    bob.take();
    chat.clock.increment(1_000);
    bob.send({ text: 'while away' }); // #5
    const carol = chat.join('Carol'); // #6
    carol.disconnect(1000); // #7
    bob.take();
    chat.clock.increment(WINDOW_MS - 1_000 - 1);

    const back = chat.resume('secret-1', { epoch: TEST_EPOCH, since: '3' });
    expect(back.take()).toStrictEqual([
      resumedWelcome('Alice', ['Alice', 'Bob'], 'secret-1', true),
      { type: 'message', text: 'unconfirmed', id: '4', ts: 100, cid: 'a2', replay: true },
      { type: 'message', sender: 'Bob', text: 'while away', id: '5', ts: 1_100, replay: true },
      {
        type: 'join',
        sender: 'Server',
        text: 'Carol has joined the chat',
        name: 'Carol',
        id: '6',
        ts: 1_100,
        replay: true,
      },
      {
        type: 'leave',
        sender: 'Server',
        text: 'Carol has left the chat',
        name: 'Carol',
        id: '7',
        ts: 1_100,
        replay: true,
      },
    ]);
    expect(bob.take()).toEqual([]);

    bob.send({ text: 'live' });
    expect(back.take()).toStrictEqual([{ type: 'message', sender: 'Bob', text: 'live', id: '8', ts: WINDOW_MS + 99 }]);
    bob.take();
    back.send({ text: 'I am back' });
    expect(bob.take()).toEqual([expect.objectContaining({ type: 'message', sender: 'Alice', text: 'I am back' })]);

    // The window it was lost in is over, and nothing comes of it.
    chat.clock.increment(WINDOW_MS * 2);
    expect(isOpen(back)).toBe(true);
    expect(joinsAndLeaves(bob.take())).toEqual([]);
    expect(chat.ended.map((e) => e.name)).toEqual(['Carol']);
    expect(chat.roster()).toEqual(['Alice', 'Bob']);
  });

  it('replays its own messages in the echo form, named when echo is named and not at all when it is off', () => {
    for (const [echo, own] of [
      ['named', [{ type: 'message', sender: 'Alice', text: 'mine', id: '3', ts: 0, cid: 'k', replay: true }]],
      ['off', []],
    ] as const) {
      const chat = sessionChat({ echo });
      const alice = chat.join('Alice');
      const bob = chat.join('Bob');
      alice.send({ text: 'mine', cid: 'k' });
      alice.disconnect(1006);
      bob.send({ text: 'theirs' });
      const back = chat.resume('secret-1', { epoch: TEST_EPOCH, since: '2' });
      expect(back.take().slice(1)).toStrictEqual([
        ...own,
        { type: 'message', sender: 'Bob', text: 'theirs', id: '4', ts: 0, replay: true },
      ]);
    }
  });

  it('misses nothing and repeats nothing, wherever it was lost and whatever happened meanwhile', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('bob' as const), text: fc.constantFrom('x', 'y') }),
      fc.record({ kind: fc.constant('alice' as const), text: fc.constantFrom('p', 'q') }),
      fc.record({ kind: fc.constant('visit' as const) }),
    );
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 12 }),
        fc.nat(),
        fc.array(step, { maxLength: 12 }),
        (before, unseen, meanwhile) => {
          const chat = sessionChat({ limits: { rateBurst: 0 } });
          const alice = chat.join('Alice');
          const bob = chat.join('Bob');
          const watcher = chat.join('Watcher');
          alice.take();
          const play = (steps: typeof before, speaker: TestClient | null) => {
            for (const s of steps) {
              if (s.kind === 'bob') bob.send({ text: s.text });
              else if (s.kind === 'alice' && speaker !== null) speaker.send({ text: s.text });
              else if (s.kind === 'visit') chat.join('Visitor').disconnect(1000);
            }
          };
          play(before, alice);
          // The client processed all but the last `unseen` frames it had received.
          const received = alice.take();
          const processed = received.slice(0, received.length - (unseen % (received.length + 1)));
          const since = idOf(processed.at(-1)) ?? '3'; // Watcher's join, its last frame before these
          alice.disconnect(1006);
          play(meanwhile, null);
          const back = chat.resume('secret-1', { epoch: TEST_EPOCH, since });
          const [welcome, ...replay] = back.take();
          expect(welcome).toMatchObject({ type: 'welcome', resumed: true, recovered: true });
          expect(replay.every((f) => 'replay' in f && f.replay)).toBe(true);
          play(before, back);
          const live = back.take();
          expect(live.some((f) => 'replay' in f)).toBe(false);

          // What it processed, then the replay, then live frames: what the watcher saw.
          const view = [...processed, ...replay, ...live];
          const seen = watcher.take();
          const shown = (f: ServerFrame) => `${idOf(f)} ${f.type} ${f.text}`;
          expect(view.map(shown)).toEqual(seen.map(shown));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('after the window: one leave, announced exactly at its end; the session is expired and the name free', () => {
    const chat = sessionChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    chat.clock.increment(500);
    alice.disconnect(1006);
    chat.clock.increment(WINDOW_MS - 1);
    expect(bob.take()).toEqual([]);
    chat.clock.increment(1);
    expect(bob.take()).toStrictEqual([
      { type: 'leave', sender: 'Server', text: 'Alice has left the chat', name: 'Alice', id: '3', ts: WINDOW_MS + 500 },
    ]);
    expect(chat.ended).toEqual([{ type: 'session.ended', session: 's1', name: 'Alice', cause: 'expired' }]);
    expect(chat.roster()).toEqual(['Bob']);

    const late = chat.resume('secret-1', { epoch: TEST_EPOCH, since: '2' });
    expect(errorCodes(late.take())).toEqual(['session_expired']);
    expect(late.actor.getSnapshot().matches({ open: { awaitingName: 'choosing' } })).toBe(true);
    late.send({ sender: 'Alice', text: '' });
    expect(late.take()).toEqual([expect.objectContaining({ type: 'welcome', name: 'Alice', users: ['Bob', 'Alice'] })]);
    chat.clock.increment(WINDOW_MS * 2);
    expect(leaves(bob.take())).toEqual([]);
  });

  it('lost, resumed and lost again: still one leave, at the end of the last window', () => {
    const chat = sessionChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    alice.disconnect(1006);
    chat.clock.increment(WINDOW_MS - 1);
    const second = chat.resume('secret-1');
    chat.clock.increment(10);
    second.disconnect(1006);
    chat.clock.increment(WINDOW_MS - 1);
    expect(bob.take()).toEqual([]);
    chat.clock.increment(1);
    expect(leaves(bob.take())).toEqual(['Alice']);
    chat.clock.increment(WINDOW_MS * 2);
    expect(leaves(bob.take())).toEqual([]);
    expect(alice.frames.filter((f) => f.type === 'leave')).toEqual([]);
  });
});

describe('taking over a session that is still open', () => {
  it('closes the old connection with 4002; nobody sees a leave or a join, and the new one carries on', () => {
    const chat = sessionChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    alice.take();
    bob.send({ text: 'one' }); // #3
    const position = idOf(alice.take().at(-1));
    bob.send({ text: 'two' }); // #4
    bob.take();

    const phone = chat.resume('secret-1', { epoch: TEST_EPOCH, since: position });
    expect(alice.ending).toEqual({ kind: 'close', code: 4002, reason: 'session taken over by a newer connection' });
    expect(phone.take()).toStrictEqual([
      resumedWelcome('Alice', ['Alice', 'Bob'], 'secret-1', true),
      { type: 'message', sender: 'Bob', text: 'two', id: '4', ts: 0, replay: true },
    ]);
    expect(bob.take()).toEqual([]);
    expect(chat.roster()).toEqual(['Alice', 'Bob']);
    expect(chat.ended).toEqual([]);

    const before = alice.frames.length;
    bob.send({ text: 'three' });
    bob.take();
    phone.send({ text: 'from the phone' });
    expect(alice.frames).toHaveLength(before);
    expect(phone.take().map((f) => f.text)).toEqual(['three', 'from the phone']);
    expect(bob.take()).toEqual([expect.objectContaining({ sender: 'Alice', text: 'from the phone' })]);

    // The old connection's end is nobody's business: the name is still the phone's.
    const other = chat.open();
    other.send({ sender: 'Alice', text: '' });
    expect(errorCodes(other.take())).toEqual(['name_taken']);
    chat.clock.increment(WINDOW_MS * 2);
    expect(joinsAndLeaves(bob.take())).toEqual([]);
  });

  it('can be taken over again and again with the same secret', () => {
    const chat = sessionChat();
    chat.join('Alice');
    const bob = chat.join('Bob');
    const second = chat.resume('secret-1');
    const third = chat.resume('secret-1');
    expect(second.ending).toMatchObject({ kind: 'close', code: 4002 });
    expect(third.take()).toEqual([resumedWelcome('Alice', ['Alice', 'Bob'], 'secret-1', false)]);
    third.disconnect(1000);
    expect(leaves(bob.take())).toEqual(['Alice']);
  });
});

describe('ends that end the session at once', () => {
  it.each([1000, 1001, 1005])('a clean close (%i): the leave at once, the session gone, the name free', (code) => {
    const chat = sessionChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    alice.disconnect(code);
    expect(leaves(bob.take())).toEqual(['Alice']);
    expect(chat.ended).toEqual([{ type: 'session.ended', session: 's1', name: 'Alice', cause: 'close' }]);
    expect(errorCodes(chat.resume('secret-1').take())).toEqual(['session_expired']);
    expect(chat.join('alice').frames[0]).toMatchObject({ type: 'welcome', name: 'alice' });
    chat.clock.increment(WINDOW_MS * 2);
    expect(leaves(bob.take())).toEqual([]);
  });

  it.each([
    [
      'too many bad frames (1008)',
      (c: TestClient) => {
        for (let i = 0; i < defaultLimits.maxBadFrames; i++) c.send('not json');
      },
    ],
    ['a frame breaking a rule ws enforces', (c: TestClient) => c.actor.send({ type: 'client.brokeRule' })],
  ])('a broken rule, %s: the leave at once, the session gone', (_, breakRule) => {
    const chat = sessionChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    breakRule(alice);
    expect(isOpen(alice)).toBe(false);
    expect(leaves(bob.take())).toEqual(['Alice']);
    expect(chat.ended).toEqual([expect.objectContaining({ name: 'Alice', cause: 'policy' })]);
    expect(errorCodes(chat.resume('secret-1').take())).toEqual(['session_expired']);
  });

  it('with RESUME_WINDOW_MS=0, any lost connection is announced at once, as before sessions', () => {
    const chat = sessionChat({ sessions: { resumeWindowMs: 0 } });
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    const carol = chat.join('Carol');
    bob.take();
    alice.disconnect(1006);
    expect(leaves(bob.take())).toEqual(['Alice']);
    carol.actor.send({ type: 'server.kick', cause: 'slow' });
    expect(leaves(bob.take())).toEqual(['Carol']);
    expect(chat.ended.map((e) => e.cause)).toEqual(['dropped', 'slow']);
    expect(errorCodes(chat.resume('secret-1').take())).toEqual(['session_expired']);
    expect(chat.join('Alice').frames[0]).toMatchObject({ type: 'welcome', name: 'Alice' });
  });
});

describe('resumes that do not recover', () => {
  function lostAlice(options: ChatOptions = {}) {
    const chat = sessionChat(options);
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    alice.disconnect(1006);
    bob.send({ text: 'missed' }); // #3
    return { chat, bob };
  }

  it.each([
    ['another epoch', { epoch: 'old-epoch', since: '2' }],
    ['no epoch', { since: '2' }],
    ['no since', { epoch: TEST_EPOCH }],
    ['neither', {}],
    ['a since past anything delivered', { epoch: TEST_EPOCH, since: '4' }],
    ['a since that is no position', { epoch: TEST_EPOCH, since: 'two' }],
    ['a negative since', { epoch: TEST_EPOCH, since: '-1' }],
    ['a since with a leading zero', { epoch: TEST_EPOCH, since: '02' }],
  ])('%s: recovered:false and no replay, then live frames', (_, fields) => {
    const { chat, bob } = lostAlice();
    const back = chat.resume('secret-1', fields);
    expect(back.take()).toStrictEqual([resumedWelcome('Alice', ['Alice', 'Bob'], 'secret-1', false)]);
    bob.send({ text: 'live' });
    expect(back.take()).toEqual([expect.objectContaining({ text: 'live', id: '4' })]);
  });

  it('the same resume with this epoch and a held position recovers (the control for the above)', () => {
    const { chat } = lostAlice();
    const back = chat.resume('secret-1', { epoch: TEST_EPOCH, since: '2' });
    expect(back.take()).toEqual([
      resumedWelcome('Alice', ['Alice', 'Bob'], 'secret-1', true),
      expect.objectContaining({ text: 'missed', id: '3', replay: true }),
    ]);
  });

  it('a since at the last position recovers, with nothing to replay', () => {
    const { chat } = lostAlice();
    const back = chat.resume('secret-1', { epoch: TEST_EPOCH, since: '3' });
    expect(back.take()).toEqual([resumedWelcome('Alice', ['Alice', 'Bob'], 'secret-1', true)]);
  });

  it('a since older than the history holds: recovered:false, no replay', () => {
    const chat = sessionChat({ sessions: { historySize: 3 }, limits: { rateBurst: 0 } });
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    alice.disconnect(1006);
    for (let i = 1; i <= 4; i++) bob.send({ text: `m${i}` }); // #3-#6; history holds #4-#6
    expect(chat.resume('secret-1', { epoch: TEST_EPOCH, since: '2' }).take()).toEqual([
      resumedWelcome('Alice', ['Alice', 'Bob'], 'secret-1', false),
    ]);
    const fromHeld = chat.resume('secret-1', { epoch: TEST_EPOCH, since: '3' }).take();
    expect(fromHeld[0]).toMatchObject({ recovered: true });
    expect(fromHeld.slice(1).map(idOf)).toEqual(['4', '5', '6']);
  });
});

describe('resumes that fail', () => {
  it.each([
    ['a forged secret', 'secret-99'],
    ['the stored hash instead of the secret', 'hash:secret-1'],
    ['an empty secret', ''],
  ])('%s: session_expired, the client may still choose a name, and the session is untouched', (_, secret) => {
    const chat = sessionChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    const mallory = chat.resume(secret, { epoch: TEST_EPOCH, since: '0' });
    expect(errorCodes(mallory.take())).toEqual(['session_expired']);
    expect(isOpen(mallory)).toBe(true);
    expect(isOpen(alice)).toBe(true);
    expect(bob.take()).toEqual([]);
    mallory.send({ sender: 'Mallory', text: '' });
    expect(mallory.take()).toEqual([expect.objectContaining({ type: 'welcome', name: 'Mallory' })]);
  });

  it('is no refusal: more failed resumes than refusals allowed do not close the connection', () => {
    const chat = sessionChat();
    const client = chat.open();
    for (let i = 0; i < defaultLimits.maxRefusals + 2; i++) client.send({ text: '', session: `guess-${i}` });
    expect(errorCodes(client.take())).toEqual(Array(defaultLimits.maxRefusals + 2).fill('session_expired'));
    expect(isOpen(client)).toBe(true);
  });

  it('a session resumed elsewhere cannot be resumed by a secret of another session', () => {
    const chat = sessionChat();
    chat.join('Alice');
    chat.join('Bob').disconnect(1006);
    const back = chat.resume('secret-2');
    expect(back.take()[0]).toMatchObject({ type: 'welcome', name: 'Bob', resumed: true });
  });
});

/** A registry that answers only when the test says so. */
function slowRegistry() {
  const requests: RegistryRequest[] = [];
  const port: { send?: (event: HubEvent) => void } = {};
  const registry = fromCallback<RegistryRequest>(({ sendBack, receive }) => {
    port.send = sendBack;
    receive((request) => requests.push(request));
  });
  return { requests, answer: (event: HubEvent) => port.send!(event), registry };
}

/** A bus that puts events in order only when the test releases them: messages on their way. */
function heldBus() {
  const held: ChatEvent[] = [];
  const port: { send?: (event: HubEvent) => void } = {};
  let seq = 0;
  const bus = fromCallback<BusRequest, { now: () => number }>(({ sendBack, receive }) => {
    port.send = sendBack;
    receive(({ event }) => held.push(event));
  });
  function release() {
    for (const event of held.splice(0)) {
      seq += 1;
      port.send!({ type: 'bus.delivered', event, seq, ts: event.type === 'message' ? event.ts : 0 });
    }
  }
  return { bus, held, release };
}

describe('while the hub decides', () => {
  it('a frame while a name is being claimed, a resume included, gets not_registered', () => {
    const slow = slowRegistry();
    const chat = sessionChat({ machines: [hubMachine.provide({ actors: { registry: slow.registry } })] });
    const alice = chat.open();
    alice.send({ sender: 'Alice', text: '' });
    alice.send({ text: 'too early' });
    alice.send({ text: '', session: 'secret-1' });
    expect(errorCodes(alice.take())).toEqual(['not_registered', 'not_registered']);
    slow.answer({ type: 'registry.granted', id: alice.id, name: 'Alice', session: 's1' });
    expect(alice.take()).toEqual([expect.objectContaining({ type: 'welcome', name: 'Alice' })]);
  });

  it('a frame while a session is being found gets not_registered and counts as a bad frame', () => {
    const slow = slowRegistry();
    const chat = sessionChat({ machines: [hubMachine.provide({ actors: { registry: slow.registry } })] });
    const client = chat.open();
    client.send({ text: '', session: 'secret-9', epoch: TEST_EPOCH, since: '4' });
    expect(slow.requests).toEqual([{ type: 'registry.resume', id: client.id, hash: 'hash:secret-9', since: 4 }]);
    client.send({ sender: 'Alice', text: '' });
    client.send({ text: '', session: 'secret-9' });
    expect(errorCodes(client.take())).toEqual(['not_registered', 'not_registered']);
    expect(client.actor.getSnapshot().context.badFrames).toBe(2);
    expect(slow.requests).toHaveLength(1);
    slow.answer({ type: 'registry.unknown', id: client.id, code: 'session_expired' });
    expect(errorCodes(client.take())).toEqual(['session_expired']);
    client.send({ sender: 'Alice', text: '' });
    expect(slow.requests.at(-1)).toMatchObject({ type: 'registry.claim', id: client.id, name: 'Alice' });
  });
});

describe('history on arrival', () => {
  function chatWithPast(options: ChatOptions = {}) {
    const chat = sessionChat({ ...options, limits: { rateBurst: 0 } });
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    for (let i = 1; i <= 4; i++) alice.send({ text: `a${i}` });
    chat.join('Carol').disconnect(1000);
    bob.send({ text: 'b1' });
    chat.join('Dan').disconnect(1000);
    return { chat, alice, bob };
  }

  it('gives the last N messages (no joins or leaves) after the welcome, marked replay, before live frames', () => {
    const { chat, bob } = chatWithPast();
    const eve = chat.open();
    eve.send({ sender: 'Eve', text: '', history: 3 });
    bob.send({ text: 'live' });
    expect(eve.take()).toStrictEqual([
      expect.objectContaining({ type: 'welcome', name: 'Eve', users: ['Alice', 'Bob', 'Eve'] }),
      { type: 'message', sender: 'Alice', text: 'a3', id: '5', ts: 0, replay: true },
      { type: 'message', sender: 'Alice', text: 'a4', id: '6', ts: 0, replay: true },
      { type: 'message', sender: 'Bob', text: 'b1', id: '9', ts: 0, replay: true },
      { type: 'message', sender: 'Bob', text: 'live', id: '13', ts: 0 },
    ]);
  });

  it('gives nothing without the field or with 0, as before sessions', () => {
    const { chat } = chatWithPast();
    for (const frame of [
      { sender: 'Eve', text: '' },
      { sender: 'Fay', text: '', history: 0 },
    ]) {
      const client = chat.open();
      client.send(frame);
      expect(client.take().map((f) => f.type)).toEqual(['welcome']);
    }
  });

  it('gives at most what the history holds (HISTORY_SIZE), however many are asked for', () => {
    const { chat } = chatWithPast({ sessions: { historySize: 4 } });
    const eve = chat.open();
    eve.send({ sender: 'Eve', text: '', history: 100 });
    // History holds #6-#9 (a4, Carol's leave, b1, Dan's join), then Dan's leave pushes a4 out.
    expect(eve.take().map((f) => f.text)).toEqual(['Welcome, Eve!', 'b1']);
  });

  it('is not given to a name refused', () => {
    const { chat } = chatWithPast();
    const client = chat.open();
    client.send({ sender: 'alice', text: '', history: 5 });
    expect(errorCodes(client.take())).toEqual(['name_taken']);
    client.send({ sender: 'Eve', text: '' });
    expect(client.take().map((f) => f.type)).toEqual(['welcome']);
  });
});

describe('cid: a resend is delivered once', () => {
  it('a message carries its cid in the sender copy only; a resend is not broadcast, and the copy comes again', () => {
    const chat = sessionChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    alice.take();
    chat.clock.increment(40);
    alice.send({ text: 'once', cid: 'k-1' });
    expect(bob.take()).toStrictEqual([{ type: 'message', sender: 'Alice', text: 'once', id: '3', ts: 40 }]);
    const copy = { type: 'message', text: 'once', id: '3', ts: 40, cid: 'k-1' };
    expect(alice.take()).toStrictEqual([copy]);

    chat.clock.increment(40);
    alice.send({ text: 'once', cid: 'k-1' });
    expect(bob.take()).toEqual([]);
    expect(alice.take()).toStrictEqual([copy]);

    // The next message takes the next id: the resend used none.
    alice.send({ text: 'next' });
    expect(bob.take()).toEqual([expect.objectContaining({ text: 'next', id: '4' })]);
  });

  it('a resend on the connection that resumed the session is recognised too', () => {
    const chat = sessionChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    alice.send({ text: 'sent before the drop', cid: 'k-1' });
    alice.disconnect(1006);
    bob.take();
    const back = chat.resume('secret-1');
    back.take();
    back.send({ text: 'sent before the drop', cid: 'k-1' });
    expect(bob.take()).toEqual([]);
    expect(back.take()).toStrictEqual([{ type: 'message', text: 'sent before the drop', id: '3', ts: 0, cid: 'k-1' }]);
  });

  it('with echo named the copy names the sender; with echo off a resend gets nothing and is not sent', () => {
    const named = sessionChat({ echo: 'named' });
    const alice = named.join('Alice');
    named.join('Bob');
    alice.send({ text: 'x', cid: 'c' });
    alice.take();
    alice.send({ text: 'x', cid: 'c' });
    expect(alice.take()).toStrictEqual([{ type: 'message', sender: 'Alice', text: 'x', id: '3', ts: 0, cid: 'c' }]);

    const off = sessionChat({ echo: 'off' });
    const ann = off.join('Ann');
    const ben = off.join('Ben');
    ann.send({ text: 'x', cid: 'c' });
    ann.send({ text: 'x', cid: 'c' });
    expect(ann.take()).toEqual([expect.objectContaining({ type: 'join', name: 'Ben' })]);
    expect(ben.take().map((f) => f.text)).toEqual(['x']);
  });

  it('a resend while the first is on its way is not sent; the copy goes to the connection the session has when it lands', () => {
    const held = heldBus();
    const chat = sessionChat({ machines: [hubMachine.provide({ actors: { bus: held.bus } })] });
    const alice = chat.open();
    alice.send({ sender: 'Alice', text: '' });
    const bob = chat.open();
    bob.send({ sender: 'Bob', text: '' });
    held.release();
    bob.take();
    alice.send({ text: 'on its way', cid: 'k' });
    alice.disconnect(1006);
    const back = chat.resume('secret-1');
    back.send({ text: 'on its way', cid: 'k' });
    expect(held.held).toHaveLength(1);
    expect(back.take().map((f) => f.type)).toEqual(['welcome']);

    held.release();
    expect(bob.take()).toEqual([expect.objectContaining({ sender: 'Alice', text: 'on its way', id: '3' })]);
    const copy = { type: 'message', text: 'on its way', id: '3', ts: 0, cid: 'k' };
    expect(back.take()).toStrictEqual([copy]);
    back.send({ text: 'on its way', cid: 'k' });
    expect(held.held).toEqual([]);
    expect(back.take()).toStrictEqual([copy]);
  });

  it('is per session: another session may use the same cid', () => {
    const chat = sessionChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    const carol = chat.join('Carol');
    alice.send({ text: 'from Alice', cid: 'same' });
    bob.send({ text: 'from Bob', cid: 'same' });
    expect(carol.take().map((f) => f.text)).toEqual(['from Alice', 'from Bob']);
  });

  it('remembers the last 32 cids of a session: an older one is sent again', () => {
    const chat = sessionChat({ limits: { rateBurst: 0 } });
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    for (let i = 1; i <= 33; i++) alice.send({ text: `m${i}`, cid: String(i) });
    bob.take();
    alice.send({ text: 'm2', cid: '2' });
    expect(bob.take()).toEqual([]);
    alice.send({ text: 'm1', cid: '1' });
    expect(bob.take()).toEqual([expect.objectContaining({ text: 'm1' })]);
  });

  it.each([
    ['65 code points', 'x'.repeat(65)],
    ['65 astral code points', '\u{1F600}'.repeat(65)],
    ['empty', ''],
  ])('a cid of %s is refused with invalid_message, and nothing is sent', (_, cid) => {
    const chat = sessionChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    alice.take();
    alice.send({ text: 'hi', cid });
    expect(errorCodes(alice.take())).toEqual(['invalid_message']);
    expect(bob.take()).toEqual([]);
  });

  it('a cid of 64 code points, astral ones included, is accepted', () => {
    const chat = sessionChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    alice.take();
    const cid = '\u{1F600}'.repeat(64);
    alice.send({ text: 'hi', cid });
    expect(alice.take()).toEqual([expect.objectContaining({ cid })]);
    expect(bob.take()).toEqual([expect.objectContaining({ text: 'hi' })]);
  });
});

describe('the bound on sessions waiting for a resume', () => {
  it('past maxWaiting the session that has waited longest ends now: one leave, cause evicted', () => {
    const chat = sessionChat({ sessions: { maxWaiting: 2 } });
    const [alice, bob, carol] = ['Alice', 'Bob', 'Carol'].map((name) => chat.join(name));
    const watcher = chat.join('Watcher');
    alice!.disconnect(1006);
    bob!.disconnect(1006);
    expect(watcher.take()).toEqual([]);
    carol!.disconnect(1006);
    expect(leaves(watcher.take())).toEqual(['Alice']);
    expect(chat.ended).toEqual([{ type: 'session.ended', session: 's1', name: 'Alice', cause: 'evicted' }]);
    expect(errorCodes(chat.resume('secret-1').take())).toEqual(['session_expired']);
    expect(chat.resume('secret-2').take()[0]).toMatchObject({ name: 'Bob', resumed: true });

    // Carol still waits her whole window and is announced once, at its end; Bob is back.
    chat.clock.increment(WINDOW_MS);
    expect(leaves(watcher.take())).toEqual(['Carol']);
    expect(chat.ended.map((e) => `${e.name}:${e.cause}`)).toEqual(['Alice:evicted', 'Carol:expired']);
  });

  it('a session resumed no longer waits: it makes room for another', () => {
    const chat = sessionChat({ sessions: { maxWaiting: 2 } });
    const [alice, bob, carol] = ['Alice', 'Bob', 'Carol'].map((name) => chat.join(name));
    const watcher = chat.join('Watcher');
    alice!.disconnect(1006);
    bob!.disconnect(1006);
    chat.resume('secret-1');
    carol!.disconnect(1006);
    expect(watcher.take()).toEqual([]);
    expect(chat.ended).toEqual([]);
  });

  it('a session whose window ran out no longer waits either', () => {
    const chat = sessionChat({ sessions: { maxWaiting: 1 } });
    const [alice, bob] = ['Alice', 'Bob'].map((name) => chat.join(name));
    const watcher = chat.join('Watcher');
    alice!.disconnect(1006);
    chat.clock.increment(WINDOW_MS);
    bob!.disconnect(1006);
    expect(chat.ended.map((e) => `${e.name}:${e.cause}`)).toEqual(['Alice:expired']);
    expect(leaves(watcher.take())).toEqual(['Alice']);
    expect(chat.hub.getSnapshot().context.waiting.size).toBe(1);
  });
});

// No session path throws on purpose; the hub is told of one as machines/owned-actors.ts
// tells it (that path, from a throwing actor to the owner, is tested in owned-actors.test.ts).
describe('a reported crash of a session actor', () => {
  const crashOf = (session: string) =>
    ({ type: 'actor.crashed', kind: 'session', id: session, error: new Error('boom') }) as const;

  it('ends that session: its leave is announced once and its name is free', () => {
    const chat = sessionChat();
    chat.join('Alice').disconnect(1006); // s1, waiting
    const watcher = chat.join('Watcher');
    chat.hub.send(crashOf('s1'));
    chat.hub.send(crashOf('s1'));
    expect(leaves(watcher.take())).toEqual(['Alice']);
    expect(chat.ended.map((e) => `${e.name}:${e.cause}`)).toEqual(['Alice:error']);
    expect(chat.hub.getSnapshot().context.sessions.size).toBe(1);
    expect(chat.join('Alice').frames[0]).toMatchObject({ type: 'welcome', name: 'Alice' });
  });
});

describe('memory', () => {
  it('holds nothing for a session once it has ended, however it ended', () => {
    const chat = sessionChat({ sessions: { maxWaiting: 1 } });
    const watcher = chat.join('Watcher'); // secret-1
    chat.join('Ann').disconnect(1000); // a clean close
    chat.join('Ben').disconnect(1006); // lost, then expires
    chat.clock.increment(WINDOW_MS);
    chat.join('Cy').disconnect(1006); // lost, then evicted by Dee's
    chat.join('Dee').disconnect(1006); // lost, resumed, taken over, then closed
    chat.resume('secret-5');
    chat.resume('secret-5').disconnect(1000);
    const eve = chat.join('Eve');
    for (let i = 0; i < defaultLimits.maxBadFrames; i++) eve.send('not json'); // a broken rule
    const refused = chat.resume('secret-2');
    refused.disconnect(1000);
    const asked = chat.open();
    asked.send({ sender: 'Watcher', text: '', history: 5 }); // refused, with history asked for
    asked.disconnect(1006);
    watcher.disconnect(1000);

    expect(leaves(watcher.frames)).toEqual(['Ann', 'Ben', 'Cy', 'Dee', 'Eve']);
    expect(chat.ended.map((e) => `${e.name}:${e.cause}`)).toEqual([
      'Ann:close',
      'Ben:expired',
      'Cy:evicted',
      'Dee:close',
      'Eve:policy',
      'Watcher:close',
    ]);
    const { children, context } = chat.hub.getSnapshot();
    expect(Object.keys(children).sort()).toEqual(['bus', 'registry']);
    expect([context.connections.size, context.sessions.size]).toEqual([0, 0]);
    const { members, roster, sessionOf, secrets, resuming, waiting, historyWanted } = context;
    expect({ members, roster, sessionOf, secrets, resuming, waiting, historyWanted }).toEqual({
      members: {},
      roster: [],
      sessionOf: {},
      secrets: {},
      resuming: {},
      waiting: new Set(),
      historyWanted: {},
    });
    // Nor does the registry: every name is free, and no old secret resumes whoever holds it now.
    for (const name of ['Watcher', 'Ann', 'Ben', 'Cy', 'Dee', 'Eve'])
      expect(chat.join(name).frames[0]).toMatchObject({ type: 'welcome', name });
    for (let n = 1; n <= 7; n++) expect(errorCodes(chat.resume(`secret-${n}`).take())).toEqual(['session_expired']);
  });
});
