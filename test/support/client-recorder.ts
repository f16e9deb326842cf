/**
 * The client library (client/) under test: every event it emits, in order, with bounded
 * waits on them. Nothing is polled: each event wakes the waiters.
 *
 *   const alice = new Recorder(connect(url, 'Alice', { WebSocket }));
 *   await alice.until((log) => log.some((e) => e.type === 'welcome'), 'the welcome');
 */
import type { ChatClient, ChatEvents } from '../../client/index.js';
import { DEFAULT_WAIT_MS, withTimeout } from './ws-client.js';

export type Recorded = { [K in keyof ChatEvents]: { type: K; event: ChatEvents[K] } }[keyof ChatEvents];

const TYPES: (keyof ChatEvents)[] = ['state', 'welcome', 'message', 'join', 'leave', 'gap', 'error'];

/** A chat event as both a client and a raw socket can tell it, for comparing streams. */
export type Shown = { type: 'message' | 'join' | 'leave'; id: string; what: string };

export class Recorder {
  readonly log: Recorded[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(readonly client: ChatClient) {
    for (const type of TYPES) {
      client.on(type, (event) => {
        this.log.push({ type, event } as Recorded);
        for (const wake of [...this.waiters]) wake();
      });
    }
  }

  /** Events of one type, in order. */
  of<K extends keyof ChatEvents>(type: K): ChatEvents[K][] {
    return this.log.filter((entry) => entry.type === type).map((entry) => entry.event as ChatEvents[K]);
  }

  /** The joins, messages and leaves shown, in order. */
  shown(): Shown[] {
    return this.log.flatMap((entry): Shown[] => {
      if (entry.type === 'message') return [{ type: 'message', id: entry.event.id, what: entry.event.text }];
      if (entry.type === 'join' || entry.type === 'leave') {
        return [{ type: entry.type, id: entry.event.id, what: entry.event.name }];
      }
      return [];
    });
  }

  /**
   * The joins, messages and leaves shown, one list per registration: a new list starts at
   * each welcome that did not resume (after a lost session the ids start again).
   */
  shownByRegistration(): Shown[][] {
    const lists: Shown[][] = [];
    let shown = 0;
    const all = this.shown();
    for (const entry of this.log) {
      if (entry.type === 'welcome' && !entry.event.resumed) lists.push([]);
      else if (entry.type === 'message' || entry.type === 'join' || entry.type === 'leave') {
        lists.at(-1)!.push(all[shown++]!);
      }
    }
    return lists;
  }

  /** Resolves once `holds` is true of the log; fails naming `what` after `timeoutMs`. */
  until(holds: (log: Recorded[]) => boolean, what: string, timeoutMs = DEFAULT_WAIT_MS * 2): Promise<void> {
    if (holds(this.log)) return Promise.resolve();
    let wake!: () => void;
    const reached = new Promise<void>((resolve) => {
      wake = () => {
        if (holds(this.log)) resolve();
      };
      this.waiters.add(wake);
    });
    return withTimeout(reached, timeoutMs, `${this.client.name}: ${what}`).finally(() => this.waiters.delete(wake));
  }

  /** Resolves once the client is in `state`. */
  untilState(state: ChatEvents['state']['state'], timeoutMs?: number): Promise<void> {
    return this.until(() => this.client.state === state, `state ${state} (now ${this.client.state})`, timeoutMs);
  }

  /** Resolves once a chat event with this id or a later one was shown. */
  untilShown(id: string, timeoutMs?: number): Promise<void> {
    return this.until(
      () => this.shown().some((shown) => Number(shown.id) >= Number(id)),
      `an event at id ${id} or later`,
      timeoutMs,
    );
  }
}

/** A raw socket's frame as a Shown, or null for what is not a join, message or leave. */
export function shownFrame(frame: Record<string, unknown>): Shown | null {
  if (frame.type === 'message') return { type: 'message', id: String(frame.id), what: String(frame.text) };
  if (frame.type === 'join' || frame.type === 'leave') {
    return { type: frame.type, id: String(frame.id), what: String(frame.name) };
  }
  return null;
}

/**
 * What a scripted server (a `ws` server a test writes, for an order of frames the real one
 * makes only under failures) welcomes Alice with: a session `s` in epoch `e`.
 */
export const scriptedWelcome = {
  type: 'welcome',
  sender: 'Server',
  text: '',
  name: 'Alice',
  users: ['Alice'],
  session: 's',
  epoch: 'e',
} as const;
