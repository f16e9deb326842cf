/**
 * The hub with its connections (SPEC §2-4): who hears what, in which order, and when a
 * name is free again. Through the socket-free chat, and with the hub's actors swapped by
 * `.provide()` where a test needs a slow registry or a connection that throws.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createActor, fromCallback, SimulatedClock, type AnyActor } from 'xstate';
import { hubMachine } from '../../machines/hub.machine.js';
import type { HubEmitted, HubEvent, RegistryRequest } from '../../machines/events.js';
import type { ServerFrame } from '../../src/frames.js';
import type { EchoMode } from '../../src/limits.js';
import { createChat, defaultLimits, failOnCrash } from '../support/chat-harness.js';
import { hubInput, TEST_EPOCH } from '../support/hub-input.js';

const leaves = (frames: ServerFrame[]) => frames.filter((f) => f.type === 'leave').map((f) => f.name);
/** What a client saw, reduced to what every client must agree on. */
const ordered = (frames: ServerFrame[]) =>
  frames.map((f) => (f.type === 'message' ? `message #${f.id} ${f.text}` : `${f.type} ${'name' in f ? f.name : ''}`));

describe('joining', () => {
  it('welcomes the new client with every online name, its own included', () => {
    const chat = createChat();
    chat.join('Alice');
    chat.join('Bob');
    const carol = chat.open();
    carol.send({ sender: 'Carol', text: '' });
    expect(carol.take()).toEqual([
      {
        type: 'welcome',
        sender: 'Server',
        text: 'Welcome, Carol!',
        name: 'Carol',
        users: ['Alice', 'Bob', 'Carol'],
        session: 'secret-3',
        epoch: TEST_EPOCH,
        id: '3',
        ts: 0,
      },
    ]);
  });

  it('announces a join exactly once to every other online client, and not to the newcomer', () => {
    const chat = createChat();
    const alice = chat.join('Alice');
    const waiting = chat.open();
    chat.join('Bob');
    expect(alice.take()).toEqual([
      { type: 'join', sender: 'Server', text: 'Bob has joined the chat', name: 'Bob', id: '2', ts: 0 },
    ]);
    expect(waiting.take()).toEqual([]);
  });

  it('shows the name as normalised, not as typed', () => {
    const chat = createChat();
    const alice = chat.join('Alice');
    chat.join('  Zoe\u0301 ');
    expect(alice.take()).toEqual([expect.objectContaining({ type: 'join', name: 'Zo\u00e9' })]);
    expect(chat.roster()).toEqual(['Alice', 'Zo\u00e9']);
  });

  it('gives a newcomer nothing said before its join', () => {
    const chat = createChat();
    const alice = chat.join('Alice');
    alice.send({ text: 'before' });
    const bob = chat.open();
    bob.send({ sender: 'Bob', text: '' });
    alice.send({ text: 'after' });
    expect(bob.take().map((f) => f.type)).toEqual(['welcome', 'message']);
  });
});

describe('messages', () => {
  it('stamps the receive time and a fresh id', () => {
    const chat = createChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    chat.clock.increment(1_234);
    alice.send({ text: 'Hello' });
    expect(bob.take()).toEqual([
      { type: 'message', sender: 'Alice', text: 'Hello', id: expect.any(String), ts: 1_234 },
    ]);
  });

  it('delivers joins, messages and leaves to everyone in one order, ids increasing', () => {
    const step = fc.record({ who: fc.integer({ min: 0, max: 2 }), text: fc.constantFrom('a', 'b', 'c') });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => {
        const chat = createChat({ limits: { rateBurst: 0 } });
        const clients = ['Ann', 'Ben', 'Cy'].map((name) => chat.join(name));
        const watcher = chat.join('Watcher');
        for (const client of clients) client.take();
        for (const { who, text } of steps) clients[who]!.send({ text: `${who}:${text}` });
        chat.join('Late');
        clients[0]!.disconnect();
        const seen = watcher.take();
        for (const client of clients.slice(1)) expect(ordered(client.take())).toEqual(ordered(seen));
        const ids = seen.flatMap((f) => (f.type === 'message' ? [Number(f.id)] : []));
        expect(ids).toHaveLength(steps.length);
        ids.forEach((id, i) => i > 0 && expect(id).toBeGreaterThan(ids[i - 1]!));
        // A sender's messages keep the order it sent them in.
        const texts = seen.flatMap((f) => (f.type === 'message' ? [f.text] : []));
        expect(texts).toEqual(steps.map(({ who, text }) => `${who}:${text}`));
      }),
      { numRuns: 50 },
    );
  });

  it.each<[EchoMode, ServerFrame[]]>([
    ['anonymous', [{ type: 'message', text: 'Hi', id: expect.any(String), ts: 0 }]],
    ['named', [{ type: 'message', sender: 'Alice', text: 'Hi', id: expect.any(String), ts: 0 }]],
    ['off', []],
  ])('echo %s gives the sender its own copy as SPEC §3 says', (echo, expected) => {
    const chat = createChat({ echo });
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    alice.take();
    alice.send({ sender: 'Alice', text: 'Hi' });
    expect(alice.take()).toStrictEqual(expected);
    expect(bob.take()).toEqual([expect.objectContaining({ sender: 'Alice', text: 'Hi' })]);
  });

  it('gives the echo the same id as everyone else sees', () => {
    const chat = createChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    alice.take();
    alice.send({ text: 'Hi' });
    expect(alice.take()[0]).toMatchObject({ id: (bob.take()[0] as { id: string }).id });
  });
});

describe('leaving', () => {
  it('announces each departure exactly once to each online client', () => {
    const chat = createChat();
    const [alice, bob, carol] = ['Alice', 'Bob', 'Carol'].map((name) => chat.join(name));
    carol!.take();
    alice!.disconnect();
    bob!.actor.send({ type: 'server.kick', cause: 'slow' });
    expect(leaves(carol!.take())).toEqual(['Alice', 'Bob']);
    expect(chat.roster()).toEqual(['Carol']);
  });

  it('sends nothing more to a client that left', () => {
    const chat = createChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    alice.take();
    alice.disconnect();
    bob.send({ text: 'anyone?' });
    expect(alice.take()).toEqual([]);
  });

  it.each(['Alice', 'alice', 'ALICE'])('frees the name at once: %s can register right after Alice leaves', (name) => {
    const chat = createChat();
    const alice = chat.join('Alice');
    alice.disconnect();
    const next = chat.open();
    next.send({ sender: name, text: '' });
    expect(next.take()).toEqual([expect.objectContaining({ type: 'welcome', name, users: [name] })]);
  });

  it('lets a client that never registered leave silently', () => {
    const chat = createChat();
    const alice = chat.join('Alice');
    const anonymous = chat.open();
    anonymous.send({ sender: 'Alice', text: '' });
    anonymous.disconnect();
    chat.open();
    chat.clock.increment(defaultLimits.registerTimeoutMs);
    expect(alice.take()).toEqual([]);
  });

  it('announces no leaves once shutting down, yet frees the members', () => {
    const chat = createChat();
    const [alice, bob, carol] = ['Alice', 'Bob', 'Carol'].map((name) => chat.join(name));
    carol!.take();
    chat.shutdown();
    alice!.actor.send({ type: 'server.kick', cause: 'shutdown' });
    bob!.disconnect();
    expect(carol!.take()).toEqual([]);
    expect(alice!.ending).toMatchObject({ kind: 'close', code: 1001 });
    expect(chat.hub.getSnapshot().context.members).toEqual({ c3: 'Carol' });
  });
});

/** A hub built from `machine` with recording emitted events; clients driven by raw events. */
function startHub(machine: typeof hubMachine) {
  const clock = new SimulatedClock();
  const hub = createActor(machine, { clock, input: hubInput({ actors: { clock } }) });
  const emitted: HubEmitted[] = [];
  hub.on('*', (event) => emitted.push(event));
  failOnCrash(hub);
  hub.start();
  function open(id: string, name: string, limits = defaultLimits) {
    hub.send({ type: 'conn.open', id, limits });
    const conn = hub.getSnapshot().context.connections.get(id)!;
    conn.send({ type: 'client.frame', sender: name, at: 0 });
    return conn;
  }
  const broadcasts = () => emitted.flatMap((e) => (e.type === 'broadcast' ? [e.frame] : []));
  return { hub, emitted, open, broadcasts };
}

describe('memory', () => {
  // XState memoizes transition candidates per event type on each state node, forever, so an
  // event type naming one connection (such as `xstate.done.actor.c7`, sent when a child
  // reaches a final state) would grow the hub with every connection ever made.
  it('never receives an event type that names one connection, however connections end', () => {
    const types = new Set<string>();
    const chat = createChat({
      limits: { maxRefusals: 1 },
      inspect: (ev) => {
        if (ev.type === '@xstate.event' && (ev.actorRef as AnyActor).logic === hubMachine) types.add(ev.event.type);
      },
    });
    const alice = chat.join('Alice');
    chat.join('Bob').disconnect(); // a member leaves
    chat.open().disconnect(); // a client that never registered
    chat.open().send({ sender: 'Server', text: '' }); // refused: closed by policy
    for (let i = 0; i < 10; i++) alice.send('not json'); // closed by policy once registered
    chat.open();
    chat.clock.increment(defaultLimits.registerTimeoutMs); // timed out
    expect([...types].filter((type) => /\bc\d+\b/.test(type))).toEqual([]);
    expect(types.has('conn.gone')).toBe(true);
  });

  // Session actors are the hub's too, one per name ever granted.
  it('never receives an event type that names one session, however sessions end', () => {
    const types = new Set<string>();
    const chat = createChat({
      sessions: { resumeWindowMs: 1_000, maxWaiting: 1 },
      inspect: (ev) => {
        if (ev.type === '@xstate.event' && (ev.actorRef as AnyActor).logic === hubMachine) types.add(ev.event.type);
      },
    });
    const resume = (secret: string) => chat.open().send({ text: '', session: secret });
    const alice = chat.join('Alice'); // secret-1
    chat.join('Bob').disconnect(1000); // ended by a clean close
    chat.join('Carol').disconnect(1006); // waits…
    chat.clock.increment(1_000); // …and expires
    chat.join('Dan').disconnect(1006); // waits, then is evicted by Eve's
    chat.join('Eve').disconnect(1006);
    resume('secret-5'); // resumed
    resume('secret-5'); // taken over
    resume('secret-4'); // refused
    for (let i = 0; i < 10; i++) alice.send('not json'); // ended for a broken rule
    expect(chat.hub.getSnapshot().context.sessionOf).toEqual({ c7: 's5' });
    expect([...types].filter((type) => /\b[cs]\d+\b|session:/.test(type))).toEqual([]);
    expect(types.has('session.ended')).toBe(true);
  });
});

describe('with a registry that answers later', () => {
  function slowRegistry() {
    const requests: RegistryRequest[] = [];
    const answer: { send?: (event: HubEvent) => void } = {};
    const registry = fromCallback<RegistryRequest>(({ sendBack, receive }) => {
      answer.send = sendBack;
      receive((request) => requests.push(request));
    });
    return { requests, answer: (event: HubEvent) => answer.send!(event), registry };
  }

  it('hands back a name granted to a connection that left while it waited', () => {
    const slow = slowRegistry();
    const { hub, open, broadcasts } = startHub(hubMachine.provide({ actors: { registry: slow.registry } }));
    const conn = open('c1', 'Alice');
    expect(slow.requests).toEqual([
      { type: 'registry.claim', id: 'c1', name: 'Alice', session: 's1', hash: 'hash:secret-1' },
    ]);
    conn.send({ type: 'client.closed', code: 1000 });
    slow.answer({ type: 'registry.granted', id: 'c1', name: 'Alice', session: 's1' });
    expect(slow.requests.at(-1)).toEqual({ type: 'registry.release', id: 'c1', name: 'Alice', session: 's1' });
    expect(broadcasts()).toEqual([]);
    expect(hub.getSnapshot().context).toMatchObject({ members: {}, roster: [] });
  });

  it('passes a revoked name on to its connection, which is then closed and announced as left', () => {
    const slow = slowRegistry();
    const { hub, open, emitted } = startHub(hubMachine.provide({ actors: { registry: slow.registry } }));
    const conn = open('c1', 'Alice');
    slow.answer({ type: 'registry.granted', id: 'c1', name: 'Alice', session: 's1' });
    const frames: ServerFrame[] = [];
    conn.on('frame', ({ frame }: { frame: ServerFrame }) => {
      frames.push(frame);
    });
    slow.answer({ type: 'registry.revoked', id: 'c1', code: 'name_lost' });
    expect(frames).toEqual([expect.objectContaining({ type: 'error', code: 'name_lost' })]);
    expect(conn.getSnapshot().status).toBe('stopped');
    expect(emitted).toContainEqual({ type: 'member.left', id: 'c1', name: 'Alice', cause: 'lost' });
    expect(slow.requests.at(-1)).toEqual({ type: 'registry.release', id: 'c1', name: 'Alice', session: 's1' });
    expect(hub.getSnapshot().context.members).toEqual({});
  });

  // A cluster registry knows a name by the connection holding it, which a resume changes.
  it('ends a session resumed on this hub in the name of the connection that resumed it', () => {
    const slow = slowRegistry();
    const { hub, open, emitted } = startHub(hubMachine.provide({ actors: { registry: slow.registry } }));
    open('c1', 'Alice');
    slow.answer({ type: 'registry.granted', id: 'c1', name: 'Alice', session: 's1' });
    hub.send({ type: 'conn.open', id: 'c2', limits: defaultLimits });
    const back = hub.getSnapshot().context.connections.get('c2')!;
    back.send({ type: 'client.frame', session: 'secret-1', at: 0 });
    slow.answer({ type: 'registry.resumed', id: 'c2', session: 's1', name: 'Alice', previous: 'c1' });
    back.send({ type: 'client.closed', code: 1000 });
    expect(slow.requests.at(-1)).toEqual({ type: 'registry.release', id: 'c2', name: 'Alice', session: 's1' });
    const leave = emitted.find((e) => e.type === 'broadcast' && e.frame.type === 'leave');
    expect(leave).toMatchObject({ author: 'c2' });
  });

  it('hands back a name granted while shutting down', () => {
    const slow = slowRegistry();
    const { hub, open, broadcasts } = startHub(hubMachine.provide({ actors: { registry: slow.registry } }));
    open('c1', 'Alice');
    hub.send({ type: 'server.shutdown' });
    slow.answer({ type: 'registry.granted', id: 'c1', name: 'Alice', session: 's1' });
    expect(slow.requests.at(-1)).toEqual({ type: 'registry.release', id: 'c1', name: 'Alice', session: 's1' });
    expect(broadcasts()).toEqual([]);
  });
});

describe('a connection actor that throws', () => {
  const boom = new Error('boom');
  /** Limits that throw once read for a message: any throw in the machine will do. */
  const throwingLimits = {
    ...defaultLimits,
    get textMaxLength(): number {
      throw boom;
    },
  };

  it('is reported and dropped; the hub stays up, the others hear it left and its name is free', () => {
    const { hub, emitted, open, broadcasts } = startHub(hubMachine);
    const alice = open('c1', 'Alice', throwingLimits);
    open('c2', 'Bob');
    alice.send({ type: 'client.frame', text: 'hi', at: 1 });
    expect(emitted).toContainEqual({
      type: 'connection.crashed',
      id: 'c1',
      error: expect.objectContaining({ message: expect.stringContaining('boom') }),
    });
    expect(emitted).toContainEqual(expect.objectContaining({ type: 'member.left', id: 'c1', name: 'Alice' }));
    expect(broadcasts().at(-1)).toMatchObject({ type: 'leave', name: 'Alice' });
    expect(hub.getSnapshot().status).toBe('active');
    expect(hub.getSnapshot().context.connections.get('c1')).toBeUndefined();
    expect(hub.getSnapshot().context.connections.size).toBe(1);
    open('c3', 'alice');
    expect(broadcasts().at(-1)).toMatchObject({ type: 'join', name: 'alice' });
    expect(hub.getSnapshot().context.roster).toEqual(['Bob', 'alice']);
  });
});
