/**
 * The hot path: one broadcast, serialized once, written to every member's socket in a
 * plain loop. No actor events, log calls or allocations per recipient.
 */
import type { WebSocket } from 'ws';
import type { HubEmitted, ServerFrame } from '../machines/events.js';

/** The part of a ws socket that fanout writes to; tests pass a recording stand-in. */
export type FrameSink = Pick<WebSocket, 'readyState' | 'OPEN' | 'bufferedAmount'> & {
  send(data: Buffer, options: { binary: false }): void;
};

type Broadcast = Extract<HubEmitted, { type: 'broadcast' }>;

/** ws reads this on every send; one shared object instead of one per call. */
const TEXT_FRAME = { binary: false } as const;

export class Fanout {
  /** Connection id -> socket, for every member that receives broadcasts. */
  private readonly members = new Map<string, FrameSink>();

  /**
   * @param maxBufferedBytes a member with more unsent data than this is reported as slow
   * @param onSlow called (at most once per write) for a member past that limit; it must
   *   end the member, which is then removed through `remove`
   */
  constructor(
    private readonly maxBufferedBytes: number,
    private readonly onSlow: (id: string) => void,
  ) {}

  get size(): number {
    return this.members.size;
  }

  add(id: string, socket: FrameSink): void {
    this.members.set(id, socket);
  }

  remove(id: string): void {
    this.members.delete(id);
  }

  /**
   * Writes `frame` to every member but the author, and the author's own frame to it.
   * Slow members are reported only once the whole broadcast is written, so that ending one
   * (which publishes its leave) can never put anything ahead of this frame, whatever hub runs.
   */
  broadcast({ frame, author, authorFrame }: Broadcast): void {
    const data = serialize(frame);
    let slow: string[] | null = null;
    for (const [id, socket] of this.members) {
      if (id !== author && this.write(socket, data)) (slow ??= []).push(id);
    }
    const socket = authorFrame === null ? undefined : this.members.get(author);
    if (socket !== undefined && this.write(socket, serialize(authorFrame!))) (slow ??= []).push(author);
    if (slow !== null) for (const id of slow) this.onSlow(id);
  }

  /** Writes one frame; true when the socket has fallen too far behind. */
  private write(socket: FrameSink, data: Buffer): boolean {
    // A socket being closed stays a member until its actor has told the hub; skip it.
    if (socket.readyState !== socket.OPEN) return false;
    socket.send(data, TEXT_FRAME);
    // Never wait on a slow reader: past the limit it is ended, and nobody else notices.
    return socket.bufferedAmount > this.maxBufferedBytes;
  }
}

/** One UTF-8 buffer per frame, shared by every socket it is written to. */
export function serialize(frame: ServerFrame): Buffer {
  return Buffer.from(JSON.stringify(frame));
}

/** Writes one frame to one socket (errors and welcomes-to-one): the same bytes fanout writes. */
export function sendFrame(socket: FrameSink, frame: ServerFrame): void {
  if (socket.readyState === socket.OPEN) socket.send(serialize(frame), TEXT_FRAME);
}
