/**
 * The /inspect state chart is generated from a machine's definition: it shows every state
 * and every transition of the machine it is given, and text from the definition never
 * becomes markup.
 */
import { describe, expect, it } from 'vitest';
import { createMachine, setup } from 'xstate';
import { connectionMachine } from '../../machines/connection.machine.js';
import { sessionMachine } from '../../machines/session.machine.js';
import { renderStateChart, statePathsOf } from '../../src/statechart.js';

/** The visible text of an SVG, tooltips included, entities decoded. */
function textOf(svg: string): string {
  return svg
    .replace(/<[^>]+>/g, '\n')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&amp;', '&');
}

function tagBalance(svg: string, tag: string): number {
  return svg.split(`<${tag}`).length - svg.split(`</${tag}>`).length;
}

describe('renderStateChart', () => {
  it('draws every state of the connection machine, with a count badge each', () => {
    const svg = renderStateChart(connectionMachine);
    expect(statePathsOf(connectionMachine)).toEqual([
      'open',
      'open.awaitingName',
      'open.awaitingName.choosing',
      'open.awaitingName.claiming',
      'open.awaitingName.resuming',
      'open.registered',
      'closed',
    ]);
    for (const path of ['', ...statePathsOf(connectionMachine)]) {
      expect(svg).toContain(`data-state="${path}"`);
      expect(svg).toContain(`data-count="${path}"`);
    }
    // No way out of closed: drawn as the end of the line.
    expect(svg).toMatch(/<g class="state terminal" data-state="closed">/);
    // Claiming and resuming have no transition of their own that leaves, but their parent's do.
    for (const path of ['open.awaitingName.claiming', 'open.awaitingName.resuming']) {
      expect(svg).toContain(`<g class="state atomic" data-state="${path}">`);
    }
    expect(svg.match(/class="state terminal"/g)).toHaveLength(1);
  });

  it('draws the session machine: attached, detached, ended, and the way back from detached', () => {
    const svg = renderStateChart(sessionMachine);
    expect(statePathsOf(sessionMachine)).toEqual(['attached', 'detached', 'ended']);
    expect(svg).toContain('data-machine="session"');
    for (const path of ['', ...statePathsOf(sessionMachine)]) expect(svg).toContain(`data-count="${path}"`);
    for (const [from, to] of [
      ['attached', 'detached'],
      ['detached', 'attached'],
      ['detached', 'ended'],
    ]) {
      expect(svg).toContain(`data-from="${from}" data-to="${to}"`);
    }
    expect(svg.match(/class="edge"/g)).toHaveLength(3);
    const text = textOf(svg).split('\n');
    for (const label of ['session.detach', 'session.attach', 'after resumeWindow', 'session.end → ended'])
      expect(text, label).toContain(label);
    // ended names the events it ignores, so it has transitions, but none that leave it.
    expect(svg).toMatch(/<g class="state terminal" data-state="ended">/);
    expect(text).toContain('session.end (ignored)');
    expect(text).toContain('session.sent (ignored)');
    expect(tagBalance(svg, 'g')).toBe(0);
  });

  it('gives each chart ids of its own, so that one page can hold several', () => {
    const ids = (svg: string) => [...svg.matchAll(/ id="([^"]+)"/g)].map((match) => match[1]);
    const connection = renderStateChart(connectionMachine);
    const session = renderStateChart(sessionMachine);
    expect(ids(connection)).toEqual(['statechart-connection-title', 'statechart-connection-arrow']);
    expect(ids(session)).toEqual(['statechart-session-title', 'statechart-session-arrow']);
    expect(session).toContain('marker-end="url(#statechart-session-arrow)"');
    expect(session).not.toContain('statechart-connection');
  });

  it('labels every transition of the connection machine as PROTOCOL.md tells it', () => {
    const text = textOf(renderStateChart(connectionMachine));
    for (const label of [
      // while open, whatever the client is doing
      'client.closed [cleanClose]',
      'client.closed',
      'server.kick [forShutdown]',
      'server.kick',
      'always [tooManyBadFrames]',
      'client.badFrame',
      // choosing a name
      'hub.refused → choosing',
      'client.frame [lacksName]',
      'client.frame [nameInvalid]',
      'hub.accepted',
      'after registerTimeout',
      'always [tooManyRefusals]',
      // registered
      'client.pong',
      'client.frame [rateLimited]',
      'client.frame [addressRateLimited]',
      'client.frame [messageInvalid]',
      'hub.takenOver',
      // resuming a session
      'client.frame [namesSession]',
      'hub.resumeRefused → choosing',
      'hub.failed',
      'after heartbeat ↺',
      'after heartbeat [pongOverdue]',
      // what transitions do, in their tooltips
      'does: spendToken, spendAddressToken, say',
      'does: drop',
    ]) {
      expect(text.split('\n'), label).toContain(label);
    }
    const svg = renderStateChart(connectionMachine);
    for (const [from, to] of [
      ['open', 'closed'],
      ['open.awaitingName', 'open.registered'],
      ['open.awaitingName', 'closed'],
      ['open.awaitingName.choosing', 'open.awaitingName.claiming'],
      ['open.awaitingName.choosing', 'open.awaitingName.resuming'],
      ['open.registered', 'closed'],
    ]) {
      expect(svg).toContain(`data-from="${from}" data-to="${to}"`);
    }
    expect(svg.match(/class="edge"/g)).toHaveLength(6);
    expect(tagBalance(svg, 'g')).toBe(0);
  });

  it('draws whatever machine it is given, escaping its names', () => {
    const machine = setup({ guards: { 'a<b': () => true }, delays: { slow: 1000 } }).createMachine({
      id: 'light',
      initial: 'green',
      states: {
        green: { on: { TIMER: { target: 'yellow', guard: 'a<b' } } },
        yellow: { after: { 500: 'red' } },
        red: {
          initial: 'walk',
          on: { TIMER: 'green' },
          states: { walk: { on: { COUNTDOWN: 'wait' } }, wait: { after: { slow: '#light.off' } } },
        },
        off: { type: 'final' },
      },
    });
    const svg = renderStateChart(machine);
    const text = textOf(svg).split('\n');
    expect(statePathsOf(machine)).toEqual(['green', 'yellow', 'red', 'red.walk', 'red.wait', 'off']);
    for (const label of ['light machine', 'TIMER [a<b]', 'after 500 ms', 'TIMER', 'COUNTDOWN', 'after slow'])
      expect(text, label).toContain(label);
    expect(svg).not.toContain('a<b');
    expect(svg).toContain('[a&lt;b]');
    // red -> green goes back up, so by a lane; TIMER from green to the next box is a short arrow.
    expect(svg).toContain('data-from="red" data-to="green"');
    expect(svg).toContain('data-from="green" data-to="yellow"');
    expect(tagBalance(svg, 'g')).toBe(0);
    expect(tagBalance(svg, 'text')).toBe(0);
  });

  it('handles a flat machine with no transitions', () => {
    const svg = renderStateChart(createMachine({ id: 'idle', initial: 'only', states: { only: {} } }));
    expect(svg).toContain('data-state="only"');
    expect(svg).not.toContain('class="edge"');
  });
});
