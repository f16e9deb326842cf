/**
 * The hot path: one broadcast, encoded once as a complete WebSocket frame, written to every
 * member's TCP socket in a plain loop. No actor events, log calls or allocations of ours per
 * recipient.
 *
 * Frames bound for one socket within one event-loop turn go out in one system call: the
 * first write of a turn corks the socket, and one `setImmediate` per turn uncorks every
 * socket written to. Under load a turn carries many broadcasts, so the server makes far
 * fewer system calls (and loopback TCP segments) than it delivers frames. Everything else
 * written to a corked socket (ws's pongs, error replies, close frames) queues behind in
 * order, so batching never reorders what one client sees.
 */
import { WebSocket } from 'ws';
import type { HubEmitted } from '../machines/events.js';
import type { ServerFrame } from './frames.js';
import { encodeTextFrame } from './ws-frame.js';

/** One member as fanout writes to it; tests pass recording stand-ins. */
export interface FrameSink {
  /** Frames go only while the WebSocket is OPEN: never after a close frame either way. */
  readonly ws: { readonly readyState: number };
  /** The TCP socket under it, which takes whole encoded frames. */
  readonly socket: {
    cork(): void;
    uncork(): void;
    write(frame: Buffer): unknown;
    /** Bytes written and not yet taken by the kernel. */
    readonly writableLength: number;
  };
}

/** One event in the hub's order, for every member here. */
export type Broadcast = Extract<HubEmitted, { type: 'broadcast' }>;

interface Member {
  readonly id: string;
  readonly ws: FrameSink['ws'];
  readonly socket: FrameSink['socket'];
  /** Corked this turn, and listed in `corked` to be uncorked at its end. */
  corked: boolean;
  /**
   * Bytes the server chose to send it at once (its replay, its history) that do not count
   * against its buffer limit, until its backlog is back under the limit. Without it, a
   * client that missed more than the limit would be ended as slow by its own replay, and
   * resume into the same replay again. Only `sendReplay` adds to it: bounded by what the
   * history holds, never by what the client sends.
   */
  allowance: number;
}

export class Fanout {
  /** Connection id -> member, for every member that receives broadcasts. */
  private readonly members = new Map<string, Member>();
  /** Members corked this turn; a member that leaves mid-turn is still uncorked here. */
  private corked: Member[] = [];
  private readonly flushTurn = () => this.flush();

  /**
   * @param maxBufferedBytes a member with more unsent data than this at the end of a turn is
   *   reported as slow
   * @param onSlow called (at most once per turn) for a member past that limit; it must end
   *   the member, which is then removed through `remove`
   */
  constructor(
    private readonly maxBufferedBytes: number,
    private readonly onSlow: (id: string) => void,
  ) {}

  get size(): number {
    return this.members.size;
  }

  add(id: string, sink: FrameSink): void {
    this.members.set(id, { id, ws: sink.ws, socket: sink.socket, corked: false, allowance: 0 });
  }

  remove(id: string): void {
    this.members.delete(id);
  }

  /** Whether `id` receives broadcasts here: a broadcast's author is local when it does. */
  has(id: string): boolean {
    return this.members.has(id);
  }

  /**
   * Writes `frame` to every member but the author, and the author's own frame to it.
   * Returns the recipients: every member but the author, plus the author when it has a
   * frame of its own. Counted from the membership, not per write, so a member whose socket
   * is already closing (and is skipped) still counts, as chat_deliveries_total always has.
   */
  broadcast({ frame, author, authorFrame }: Broadcast): number {
    const data = encodeTextFrame(JSON.stringify(frame));
    for (const member of this.members.values()) {
      if (member.id !== author) this.write(member, data);
    }
    const own = this.members.get(author);
    if (own !== undefined && authorFrame !== null) this.write(own, encodeTextFrame(JSON.stringify(authorFrame)));
    return own !== undefined && authorFrame === null ? this.members.size - 1 : this.members.size;
  }

  /** Frames for one member alone (a resent message's copy), in order with the broadcasts. */
  sendTo(id: string, frames: readonly ServerFrame[]): void {
    const member = this.members.get(id);
    if (member === undefined) return;
    for (const frame of frames) this.write(member, encodeTextFrame(JSON.stringify(frame)));
  }

  /**
   * A resume's welcome and replay, or history on arrival, for one member, in order with the
   * broadcasts. Their bytes are the server's choice, not the member's slowness: they are
   * allowed on top of the buffer limit (see `Member.allowance`).
   */
  sendReplay(id: string, frames: readonly ServerFrame[]): void {
    const member = this.members.get(id);
    if (member === undefined) return;
    for (const frame of frames) {
      const data = encodeTextFrame(JSON.stringify(frame));
      member.allowance += data.length;
      this.write(member, data);
    }
  }

  /**
   * Uncorks every socket written to this turn, so each sends its frames in one go, then
   * reports the members whose socket still holds more than the limit: the kernel has had
   * its chance, so what is left is a real backlog, not a burst in flight. Reporting only
   * after every socket is written means that ending one (which publishes its leave) can
   * never put anything ahead of a frame of this turn, whatever hub runs.
   */
  flush(): void {
    const corked = this.corked;
    if (corked.length === 0) return;
    this.corked = [];
    let slow: string[] | null = null;
    for (const member of corked) {
      member.corked = false;
      member.socket.uncork();
      // Never wait on a slow reader: past the limit it is ended, and nobody else notices.
      const backlog = member.socket.writableLength;
      if (backlog <= this.maxBufferedBytes) member.allowance = 0;
      else if (backlog > this.maxBufferedBytes + member.allowance && this.members.get(member.id) === member) {
        (slow ??= []).push(member.id);
      }
    }
    if (slow !== null) for (const id of slow) this.onSlow(id);
  }

  /** Writes one frame, corking the socket at its first frame of the turn. */
  private write(member: Member, data: Buffer): void {
    const { ws, socket } = member;
    // A socket being closed stays a member until its actor has told the hub; skip it.
    if (ws.readyState !== WebSocket.OPEN) return;
    if (!member.corked) {
      if (this.corked.length === 0) setImmediate(this.flushTurn);
      member.corked = true;
      this.corked.push(member);
      socket.cork();
    }
    socket.write(data);
  }
}

/** Writes one frame to one socket (errors to one client): through ws, in order with the rest. */
export function sendFrame(ws: Pick<WebSocket, 'readyState' | 'send'>, frame: ServerFrame): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
}
