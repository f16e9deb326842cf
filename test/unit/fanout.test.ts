/**
 * Fanout's promises to each socket, with recording stand-ins: one encoding per broadcast,
 * frames in broadcast order, one cork and one uncork per socket per event-loop turn (so a
 * turn's frames leave in one system call), and slow members reported after the broadcast.
 */
import { describe, expect, it } from 'vitest';
import type { ServerFrame } from '../../src/frames.js';
import { Fanout, type FrameSink } from '../../src/fanout.js';

type Step = 'cork' | 'uncork' | { write: unknown };

class RecordingSink implements FrameSink {
  readonly steps: Step[] = [];
  readonly written: Buffer[] = [];
  readonly ws = { readyState: 1 };
  readonly socket = {
    cork: () => void this.steps.push('cork'),
    uncork: () => void this.steps.push('uncork'),
    write: (frame: Buffer) => {
      this.written.push(frame);
      this.steps.push({ write: (JSON.parse(frame.toString('utf8', 2)) as { text: string }).text });
      this.socket.writableLength += frame.length;
    },
    writableLength: 0,
  };
}

const notice = (text: string): ServerFrame => ({ type: 'join', sender: 'Server', text, name: text, id: '1', ts: 0 });
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

  it('answers how many members a broadcast was for: the author counts only with a frame of its own', () => {
    const { fanout, sinks } = setUp();
    expect(fanout.broadcast(broadcast('from elsewhere'))).toBe(3);
    expect(fanout.broadcast(broadcast('a leave', 'a'))).toBe(2);
    expect(fanout.broadcast(broadcast('a message', 'a', notice('own')))).toBe(3);
    expect(fanout.has('a')).toBe(true);
    expect(fanout.has('nobody')).toBe(false);
    // A member whose socket is closing is skipped, yet counted until it leaves: as
    // chat_deliveries_total has always counted it.
    sinks.c.ws.readyState = 2;
    expect(fanout.broadcast(broadcast('two'))).toBe(3);
    fanout.remove('c');
    expect(fanout.broadcast(broadcast('three'))).toBe(2);
  });

  it("reports a member still past the buffer limit at the turn's end, once, after everyone has the turn's frames", async () => {
    const reports: { id: string; uncorked: string[] }[] = [];
    const sinks = { a: new RecordingSink(), b: new RecordingSink(), c: new RecordingSink() };
    const uncorked = () =>
      Object.entries(sinks)
        .filter(([, sink]) => sink.steps.at(-1) === 'uncork')
        .map(([id]) => id);
    const fanout = new Fanout(1_000, (id) => reports.push({ id, uncorked: uncorked() }));
    for (const [id, sink] of Object.entries(sinks)) fanout.add(id, sink);
    sinks.a.socket.writableLength = 1_000; // a backlog at the limit: this turn's frames take it past
    fanout.broadcast(broadcast('one'));
    fanout.broadcast(broadcast('two'));
    expect(reports).toEqual([]);
    await endOfTurn();
    expect(reports).toEqual([{ id: 'a', uncorked: ['a', 'b', 'c'] }]);
  });

  it('allows a replay on top of the limit, until it drains under it', async () => {
    const { fanout, sinks, slow } = setUp(1_000);
    const replay = Array.from({ length: 40 }, (_, i) => notice(`missed ${i}`));
    fanout.sendReplay('a', replay);
    const replayBytes = sinks.a.socket.writableLength;
    expect(replayBytes).toBeGreaterThan(2_000);
    fanout.broadcast(broadcast('live'));
    await endOfTurn();
    expect(slow).toEqual([]);
    // Not yet drained: more than the limit's worth of broadcasts on top of the replay is slow.
    sinks.a.socket.writableLength = replayBytes + 1_001;
    fanout.broadcast(broadcast('more'));
    await endOfTurn();
    expect(slow).toEqual(['a']);
  });

  // A copy's size is the client's choice (it resends a cid with any text): no allowance.
  it('holds a member to the plain limit for what it caused itself (a resent copy)', async () => {
    const { fanout, sinks, slow } = setUp(1_000);
    fanout.sendTo(
      'a',
      Array.from({ length: 40 }, (_, i) => notice(`copy ${i}`)),
    );
    expect(sinks.a.socket.writableLength).toBeGreaterThan(1_000);
    await endOfTurn();
    expect(slow).toEqual(['a']);
  });

  it('holds a member to the plain limit again once its replay has drained under it', async () => {
    const { fanout, sinks, slow } = setUp(1_000);
    fanout.sendReplay(
      'a',
      Array.from({ length: 40 }, (_, i) => notice(`missed ${i}`)),
    );
    await endOfTurn();
    sinks.a.socket.writableLength = 0; // read it all
    fanout.broadcast(broadcast('live'));
    await endOfTurn();
    sinks.a.socket.writableLength = 1_001;
    fanout.broadcast(broadcast('more'));
    await endOfTurn();
    expect(slow).toEqual(['a']);
  });

  it('does not report a burst the kernel takes when the socket is uncorked', async () => {
    const slow: string[] = [];
    const fanout = new Fanout(100, (id) => slow.push(id));
    const sink = new RecordingSink();
    sink.socket.uncork = () => {
      sink.steps.push('uncork');
      sink.socket.writableLength = 0; // the kernel took it all
    };
    fanout.add('a', sink);
    for (let i = 0; i < 10; i++) fanout.broadcast(broadcast(`burst ${i}`));
    expect(sink.socket.writableLength).toBeGreaterThan(100);
    await endOfTurn();
    expect(slow).toEqual([]);
  });
});
