/**
 * The connection machine alone, with a recording actor as its hub: what it tells the hub
 * (claims, messages, the cause it went with) and what it emits, with a simulated clock.
 */
import { describe, expect, it } from 'vitest';
import { createActor, setup, SimulatedClock, type AnyEventObject } from 'xstate';
import { connectionMachine } from '../../machines/connection.machine.js';
import { defaultLimits } from '../support/chat-harness.js';

describe('connection machine alone, with a recording hub', () => {
  function start(limits = defaultLimits) {
    const told: AnyEventObject[] = [];
    const clock = new SimulatedClock();
    const recorder = setup({}).createMachine({ on: { '*': { actions: ({ event }) => told.push(event) } } });
    const hub = createActor(recorder).start();
    const conn = createActor(connectionMachine, { clock, input: { id: 'c1', limits, hub } }).start();
    const emitted: AnyEventObject[] = [];
    conn.on('*', (event) => emitted.push(event));
    const toHub = () => told.filter((e) => e.type.startsWith('conn.'));
    return { conn, clock, toHub, emitted };
  }

  it('asks its parent for the normalised name and says nothing of an invalid one', () => {
    const { conn, toHub, emitted } = start();
    conn.send({ type: 'client.frame', sender: 'Server', at: 1 });
    expect(toHub()).toEqual([]);
    expect(emitted).toEqual([{ type: 'frame', frame: expect.objectContaining({ code: 'invalid_name' }) }]);
    conn.send({ type: 'client.frame', sender: ' Zoe\u0301 ', text: '', at: 2 });
    expect(toHub()).toEqual([{ type: 'conn.claim', id: 'c1', name: 'Zo\u00e9', history: 0 }]);
  });

  it('sends conn.say once accepted, with the receive time', () => {
    const { conn, toHub } = start();
    conn.send({ type: 'client.frame', sender: 'Alice', at: 1 });
    conn.send({ type: 'hub.accepted', name: 'Alice' });
    conn.send({ type: 'client.frame', sender: 'Mallory', text: 'hi', at: 1234 });
    expect(toHub().at(-1)).toEqual({ type: 'conn.say', id: 'c1', text: 'hi', at: 1234 });
  });

  it.each([
    ['close', (c: ReturnType<typeof start>) => c.conn.send({ type: 'client.closed', code: 1000 })],
    ['policy', (c: ReturnType<typeof start>) => c.clock.increment(defaultLimits.registerTimeoutMs)],
    ['slow', (c: ReturnType<typeof start>) => c.conn.send({ type: 'server.kick', cause: 'slow' })],
  ])('tells its parent conn.gone with cause %s', (cause, end) => {
    const c = start();
    end(c);
    expect(c.toHub()).toEqual([{ type: 'conn.gone', id: 'c1', cause }]);
  });

  it('tells its parent conn.gone with cause heartbeat after a missed pong', () => {
    const c = start();
    c.conn.send({ type: 'client.frame', sender: 'Alice', at: 0 });
    c.conn.send({ type: 'hub.accepted', name: 'Alice' });
    // One increment per beat: the simulated clock schedules the next beat from its new time.
    c.clock.increment(defaultLimits.heartbeatMs);
    c.clock.increment(defaultLimits.heartbeatMs);
    expect(c.toHub().at(-1)).toEqual({ type: 'conn.gone', id: 'c1', cause: 'heartbeat' });
    expect(c.emitted.map((e) => e.type)).toEqual(['ping', 'terminate']);
  });
});
