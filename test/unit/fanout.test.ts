/**
 * Fanout's promises to each socket, with recording stand-ins: one encoding per broadcast,
 * frames in broadcast order, one cork and one uncork per socket per event-loop turn (so a
 * turn's frames leave in one system call), and slow members reported after the broadcast.
 */
import { describe, expect, it } from 'vitest';
import type { ServerFrame } from '../../machines/events.js';
import { Fanout, type FrameSink } from '../../src/fanout.js';

type Step = 'cork' | 'uncork' | { write: unknown };

class RecordingSink implements FrameSink {
  readonly steps: Step[] = [];
  readonly written: Buffer[] = [];
  readonly ws = { readyState: 1 };
  readonly socket = {
    cork: () => this.steps.push('cork'),
    uncork: () => this.steps.push('uncork'),
    write: (frame: Buffer) => {
      this.written.push(frame);
      this.steps.push({ write: JSON.parse(frame.toString('utf8', 2)).text });
      this.socket.writableLength += frame.length;
    },
    writableLength: 0,
  };
}

const notice = (text: string): ServerFrame => ({ type: 'join', sender: 'Server', text, name: text });
const broadcast = (text: string, author = 'nobody', authorFrame: ServerFrame | null = null) =>
  ({ type: 'broadcast', frame: notice(text), author, authorFrame }) as const;
const endOfTurn = () => new Promise((resolve) => setImmediate(resolve));

function setUp(maxBufferedBytes = Number.MAX_SAFE_INTEGER) {
  const slow: string[] = [];
  const fanout = new Fanout(maxBufferedBytes, (id) => slow.push(id));
  const sinks = { a: new RecordingSink(), b: new RecordingSink(), c: new RecordingSink() };
  for (const [id, sink] of Object.entries(sinks)) fanout.add(id, sink);
  return { fanout, sinks, slow };
}

describe('Fanout', () => {
  it('encodes a broadcast once: every member gets the same buffer', () => {
    const { fanout, sinks } = setUp();
    fanout.broadcast(broadcast('one'));
    expect(sinks.a.written[0]).toBe(sinks.b.written[0]);
    expect(sinks.b.written[0]).toBe(sinks.c.written[0]);
  });

  it("corks each socket once per turn and uncorks it at the turn's end, keeping broadcast order", async () => {
    const { fanout, sinks } = setUp();
    fanout.broadcast(broadcast('one'));
    fanout.broadcast(broadcast('two', 'a', notice('own two')));
    fanout.broadcast(broadcast('three'));
    expect(sinks.a.steps).toEqual(['cork', { write: 'one' }, { write: 'own two' }, { write: 'three' }]);
    expect(sinks.b.steps).toEqual(['cork', { write: 'one' }, { write: 'two' }, { write: 'three' }]);
    await endOfTurn();
    expect(sinks.a.steps.at(-1)).toBe('uncork');
    expect(sinks.b.steps.filter((s) => s === 'uncork')).toHaveLength(1);

    // The next turn corks afresh.
    fanout.broadcast(broadcast('four'));
    await endOfTurn();
    expect(sinks.c.steps.slice(-3)).toEqual(['cork', { write: 'four' }, 'uncork']);
  });

  it('still uncorks a member that left during the turn', async () => {
    const { fanout, sinks } = setUp();
    fanout.broadcast(broadcast('one'));
    fanout.remove('b');
    fanout.broadcast(broadcast('two'));
    await endOfTurn();
    expect(sinks.b.steps).toEqual(['cork', { write: 'one' }, 'uncork']);
  });

  it('writes nothing to a member whose WebSocket is no longer open, nor corks it', async () => {
    const { fanout, sinks } = setUp();
    sinks.c.ws.readyState = 2; // CLOSING: a close frame went out
    fanout.broadcast(broadcast('one'));
    await endOfTurn();
    expect(sinks.c.steps).toEqual([]);
    expect(sinks.a.steps).toEqual(['cork', { write: 'one' }, 'uncork']);
  });

  it('reports a member past the buffer limit once, after every member has the frame', () => {
    const reports: { id: string; lastHasFrame: boolean }[] = [];
    const sinks = { a: new RecordingSink(), b: new RecordingSink(), c: new RecordingSink() };
    const fanout = new Fanout(1_000, (id) => reports.push({ id, lastHasFrame: sinks.c.written.length === 1 }));
    for (const [id, sink] of Object.entries(sinks)) fanout.add(id, sink);
    sinks.a.socket.writableLength = 1_000; // at the limit: this frame takes it past
    fanout.broadcast(broadcast('one'));
    // c comes last in the loop and already had its frame when a was reported.
    expect(reports).toEqual([{ id: 'a', lastHasFrame: true }]);
  });
});
