/**
 * A socket-free chat: the real hub, real connection actors and the real Fanout loop, with
 * recording stand-ins for sockets and a simulated clock. Used by machine and model tests.
 *
 *   const chat = createChat();
 *   const alice = chat.open();
 *   alice.send({ sender: 'Alice', text: '' });
 *   alice.take();            // frames received since the last take
 *   chat.clock.increment(10_000);
 */
import { createActor, SimulatedClock, type Actor, type AnyActorRef, type InspectionEvent } from 'xstate';
import { hubMachine } from '../../machines/hub.machine.js';
import type { ServerFrame } from '../../src/frames.js';
import { fixedLimits, type ConnectionLimits, type EchoMode } from '../../src/limits.js';
import { Fanout, type Broadcast, type FrameSink } from '../../src/fanout.js';
import { readClientFrame } from '../../src/protocol.js';
import type { ConnectionActor } from '../../src/transport.js';
import { hubInput } from './hub-input.js';
import type { SessionSettings } from '../../machines/hub.machine.js';
import type { AddressNameSettings } from '../../src/address-names.js';

type InspectionObserver = (event: InspectionEvent) => void;

export const defaultLimits: ConnectionLimits = {
  nameMaxLength: 32,
  textMaxLength: 4096,
  registerTimeoutMs: 10_000,
  heartbeatMs: 30_000,
  rateBurst: 20,
  ratePerSec: 10,
  addressRateBurst: 0,
  addressRatePerSec: 0,
  ...fixedLimits,
};

export type Ending = { kind: 'close'; code: number; reason: string } | { kind: 'terminate' };

export interface TestClient {
  readonly id: string;
  /** Every frame this client has received, in order. */
  readonly frames: ServerFrame[];
  /** How the server ended this client, if it did. */
  ending: Ending | null;
  pings: number;
  /**
   * Stopped reading: the socket stays open and the server goes on writing to it (into
   * `frames`), but the client neither processes what arrives nor sends anything, pongs
   * included. See `processed`.
   */
  readonly frozen: boolean;
  /** Sends a client frame: an object is JSON-encoded, a string sent as is, null is a binary frame. */
  send(frame: object | string | null): void;
  pong(): void;
  /** The socket ends: a clean close by the client (1000) unless another code is given (1006: dropped). */
  disconnect(code?: number): void;
  /** The client sent what ws closes the socket for (too big: 1009); ws is closing it. */
  breakRule(): void;
  /** From now on the client is silent and reads nothing (a frozen tab, a dead network that still looks open). */
  freeze(): void;
  /** Sends one last frame and freezes before reading anything it causes, its own copy included. */
  sendThenFreeze(frame: object): void;
  /** The frames the client has read: all of `frames`, or those before it froze. */
  processed(): ServerFrame[];
  /** Frames received since the previous take. */
  take(): ServerFrame[];
  readonly actor: ConnectionActor;
}

export interface ChatOptions {
  limits?: Partial<ConnectionLimits>;
  echo?: EchoMode;
  maxBufferedBytes?: number;
  /** Passed to each hub's createActor: sees every actor event of the system. */
  inspect?: InspectionObserver;
  /** One hub per machine (cluster mode: one per node), clients spread over them in turn. */
  machines?: Array<typeof hubMachine>;
  /**
   * Told of every broadcast as the server tells its observer: with fanout's recipient count,
   * and whether the author is a member there.
   */
  onBroadcast?: (event: Broadcast, recipients: number, authorIsMember: boolean) => void;
  /** Session settings (default: no resume window, as before sessions). */
  sessions?: Partial<SessionSettings>;
  /**
   * Put before every session id and secret: chats that share one Redis one after the
   * other (cluster model runs) never reuse one, as random ones never are.
   */
  keyPrefix?: string;
  /** Names and registrations per client address (default: none). */
  perAddress?: AddressNameSettings;
}

/** The text of one unmasked WebSocket text frame, as fanout encodes it. */
function textFramePayload(frame: Buffer): string {
  const short = frame[1]! & 0x7f;
  const header = short === 126 ? 4 : short === 127 ? 10 : 2;
  return frame.toString('utf8', header);
}

/**
 * Makes a hub's failure fail the test run, as an unhandled error. XState reports one that
 * way only when nobody listens for errors, and the hub's own OwnedActors listen (to stop
 * its connections and sessions), so a hub that threw would otherwise go unnoticed.
 */
export function failOnCrash(hub: AnyActorRef): void {
  hub.subscribe({
    error: (err: unknown) => {
      throw err;
    },
  });
}

export function createChat(options: ChatOptions = {}) {
  const clock = new SimulatedClock();
  const limits = { ...defaultLimits, ...options.limits };
  const sinks = new Map<string, FrameSink>();
  const clients = new Map<string, TestClient>();
  const machines = options.machines ?? [hubMachine];
  const hubs = machines.map((machine, index) => {
    const hub: Actor<typeof hubMachine> = createActor(machine, {
      clock,
      input: hubInput({
        echo: options.echo ?? 'anonymous',
        sessions: options.sessions,
        now: () => clock.now(),
        keyPrefix: `${options.keyPrefix ?? ''}${machines.length > 1 ? `h${index}-` : ''}`,
        actors: { clock, ...(options.inspect === undefined ? {} : { inspect: options.inspect }) },
        ...(options.perAddress === undefined ? {} : { perAddress: options.perAddress }),
      }),
      ...(options.inspect === undefined ? {} : { inspect: options.inspect }),
    });
    const fanout = new Fanout(options.maxBufferedBytes ?? Number.MAX_SAFE_INTEGER, (id) =>
      clients.get(id)?.actor.send({ type: 'server.kick', cause: 'slow' }),
    );
    hub.on('broadcast', (event) => {
      const recipients = fanout.broadcast(event);
      options.onBroadcast?.(event, recipients, fanout.has(event.author));
    });
    hub.on('member.joined', ({ id }) => {
      const sink = sinks.get(id);
      if (sink !== undefined) fanout.add(id, sink);
    });
    hub.on('member.left', ({ id }) => fanout.remove(id));
    hub.on('member.resumed', ({ id, frames }) => {
      const sink = sinks.get(id);
      if (sink === undefined) return;
      fanout.add(id, sink);
      fanout.sendReplay(id, frames);
    });
    hub.on('send', ({ id, frames, kind }) =>
      kind === 'history' ? fanout.sendReplay(id, frames) : fanout.sendTo(id, frames),
    );
    failOnCrash(hub);
    hub.start();
    return hub;
  });
  const hub = hubs[0]!;
  let opened = 0;
  /** The time client frames are stamped with: the simulated clock's. */
  const now = () => clock.now();

  /** A new connection, from client `address` as per-address limits count it. */
  function open(address = ''): TestClient {
    const home = hubs[opened % hubs.length]!;
    const id = `c${++opened}`;
    home.send({ type: 'conn.open', id, limits, address });
    const actor = home.getSnapshot().context.connections.get(id)!;
    let taken = 0;
    /** How many frames it had read when it froze; null while it reads. */
    let readUpTo: number | null = null;
    const client: TestClient = {
      id,
      frames: [],
      ending: null,
      pings: 0,
      actor,
      get frozen() {
        return readUpTo !== null;
      },
      send(frame) {
        if (readUpTo !== null) throw new Error(`${id} is frozen: it sends nothing`);
        if (actor.getSnapshot().status !== 'active') return;
        const data = frame === null ? null : typeof frame === 'string' ? frame : JSON.stringify(frame);
        actor.send(readClientFrame(data, now()));
      },
      pong() {
        if (readUpTo === null && actor.getSnapshot().status === 'active') actor.send({ type: 'client.pong' });
      },
      disconnect(code = 1000) {
        if (actor.getSnapshot().status === 'active') actor.send({ type: 'client.closed', code });
      },
      breakRule() {
        if (readUpTo !== null) throw new Error(`${id} is frozen: it sends nothing`);
        if (actor.getSnapshot().status === 'active') actor.send({ type: 'client.brokeRule' });
      },
      freeze() {
        readUpTo ??= client.frames.length;
      },
      sendThenFreeze(frame) {
        const read = client.frames.length;
        client.send(frame);
        readUpTo = read;
      },
      processed() {
        return readUpTo === null ? client.frames : client.frames.slice(0, readUpTo);
      },
      take() {
        const fresh = client.frames.slice(taken);
        taken = client.frames.length;
        return fresh;
      },
    };
    const sink: FrameSink = {
      ws: {
        get readyState() {
          return client.ending === null ? 1 : 3;
        },
      },
      // Frames arrive at once, corked or not: batching is a socket's business, not the chat's.
      socket: {
        cork() {},
        uncork() {},
        write(data: Buffer) {
          client.frames.push(JSON.parse(textFramePayload(data)) as ServerFrame);
        },
        writableLength: 0,
      },
    };
    actor.on('frame', ({ frame }) => {
      if (client.ending === null) client.frames.push(structuredClone(frame));
    });
    actor.on('close', ({ code, reason }) => (client.ending = { kind: 'close', code, reason }));
    actor.on('terminate', () => (client.ending = { kind: 'terminate' }));
    actor.on('ping', () => client.pings++);
    sinks.set(id, sink);
    clients.set(id, client);
    return client;
  }

  /** Opens a client and registers `name`, returning it with its welcome already taken. */
  function join(name: string, address = ''): TestClient {
    const client = open(address);
    client.send({ sender: name, text: '' });
    client.take();
    return client;
  }

  return {
    hub,
    hubs,
    clock,
    limits,
    open,
    join,
    /** Online names, as the (first) hub's roster has them. */
    roster: () => hub.getSnapshot().context.roster,
    /** Every hub's roster. */
    rosters: () => hubs.map((h) => h.getSnapshot().context.roster),
    shutdown: () => hubs.forEach((h) => h.send({ type: 'server.shutdown' })),
    stop: () => hubs.forEach((h) => h.stop()),
  };
}

export type Chat = ReturnType<typeof createChat>;

/** Each frame's error code, or its type when it is not an error. */
export const errorCodes = (frames: ServerFrame[]) => frames.map((f) => (f.type === 'error' ? f.code : f.type));
/** The client is still connected and its actor still running. */
export const isOpen = (client: TestClient) => client.ending === null && client.actor.getSnapshot().status === 'active';
