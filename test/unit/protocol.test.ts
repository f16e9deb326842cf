/**
 * The wire protocol's pure functions (SPEC §1-3) other than the name rules (names.test.ts):
 * reading client frames, the text rule, and the exact shape of every server frame.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { chatFrame, echoFrame, errorFrame, isValidText, readClientFrame, welcomeFrame } from '../../src/protocol.js';
import { hasContent, hasOnlyTabAndLfControls } from '../support/expected.js';

const AT = 1_764_000_000_000;
const read = (data: string | null) => readClientFrame(data, AT);
const bad = { type: 'client.badFrame', at: AT };

describe('readClientFrame', () => {
  it('reads the seed shape {sender, text}', () => {
    expect(read('{"sender":"Alice","text":"hi"}')).toEqual({
      type: 'client.frame',
      sender: 'Alice',
      text: 'hi',
      at: AT,
    });
  });

  it('puts U+FFFD in place of half a surrogate pair in the text, and keeps whole pairs', () => {
    expect(read('{"text":"a\\ud800b\\udc00"}')).toMatchObject({ text: 'a\uFFFDb\uFFFD' });
    expect(read('{"text":"\\ud83d\\ude00"}')).toMatchObject({ text: '😀' });
  });

  it.each([
    ['not JSON', 'hello'],
    ['truncated JSON', '{"sender":"A"'],
    ['an empty frame', ''],
    ['an array', '[{"sender":"A"}]'],
    ['a number', '42'],
    ['a string', '"Alice"'],
    ['JSON null', 'null'],
    ['a boolean', 'true'],
  ])('makes a bad frame of %s', (_, data) => {
    expect(read(data)).toEqual(bad);
  });

  it('makes a bad frame of a binary frame', () => {
    expect(read(null)).toEqual(bad);
  });

  it.each([
    ['a numeric sender', '{"sender":1,"text":"hi"}'],
    ['an object sender', '{"sender":{"name":"A"}}'],
    ['an array text', '{"sender":"A","text":["hi"]}'],
    ['a boolean text', '{"text":false}'],
  ])('makes a bad frame of %s', (_, data) => {
    expect(read(data)).toEqual(bad);
  });

  it('treats null fields as absent', () => {
    expect(read('{"sender":null,"text":"hi"}')).toEqual({ type: 'client.frame', text: 'hi', at: AT });
    expect(read('{"sender":"A","text":null}')).toEqual({ type: 'client.frame', sender: 'A', at: AT });
  });

  it('ignores unknown fields', () => {
    expect(read('{"sender":"A","text":"hi","type":"welcome","id":7}')).toEqual({
      type: 'client.frame',
      sender: 'A',
      text: 'hi',
      at: AT,
    });
  });

  it('reads an empty object as a frame with neither field', () => {
    expect(read('{}')).toEqual({ type: 'client.frame', at: AT });
  });

  it('does not take fields from a __proto__ or constructor key, nor pollute Object.prototype', () => {
    const event = read('{"__proto__":{"sender":"Mallory","text":"x"},"constructor":{"prototype":{"sender":"M"}}}');
    expect(event).toEqual({ type: 'client.frame', at: AT });
    expect(({} as Record<string, unknown>)['sender']).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('sender');
  });

  it('never throws, whatever the string', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.json({ maxDepth: 2 })), (data) => {
        const event = read(data);
        expect(['client.frame', 'client.badFrame']).toContain(event.type);
      }),
    );
  });

  it('reads every JSON object with string-or-absent fields as a frame', () => {
    const field = fc.option(fc.string({ unit: 'grapheme' }), { nil: undefined });
    fc.assert(
      fc.property(field, field, (sender, text) => {
        const event = read(JSON.stringify({ sender, text }));
        expect(event).toEqual({
          type: 'client.frame',
          at: AT,
          ...(sender !== undefined && { sender }),
          ...(text !== undefined && { text }),
        });
      }),
    );
  });
});
describe('isValidText', () => {
  it.each(['', ' ', '\n\t ', '\u00A0\u3000'])('refuses empty or whitespace-only text %j', (text) => {
    expect(isValidText(text, 4096)).toBe(false);
  });

  it.each(['\u200B', ' \u200B\u2060 ', '\uFEFF', '\u0000', '\u202E\u200D', '\u3164', '\uFE0F\u034F', '\u2800'])(
    'refuses text with nothing visible %j',
    (text) => {
      expect(isValidText(text, 4096)).toBe(false);
    },
  );

  it.each(['\u200Bx', '👨\u200D👩', 'é', 'a\tb\nc'])('accepts text with something visible %j', (text) => {
    expect(isValidText(text, 4096)).toBe(true);
  });

  // A terminal acts on these: ESC starts escape sequences (colours, cursor moves, a new
  // window title), BEL rings, CR and BS overwrite the line, 0x9B is ESC [ to some.
  it.each([
    ['NUL', '\u0000a'],
    ['ESC', 'hi \u001b[2J\u001b]0;pwned\u0007'],
    ['BEL', 'ding\u0007'],
    ['CR', 'Alice: fine\rBob: lies'],
    ['CRLF', 'two\r\nlines'],
    ['BS', 'oops\u0008\u0008'],
    ['VT', 'a\u000bb'],
    ['FF', 'a\u000cb'],
    ['US', 'a\u001fb'],
    ['DEL', 'a\u007fb'],
    ['C1 NEL', 'a\u0085b'],
    ['C1 CSI', 'a\u009b2Jb'],
  ])('refuses text holding a control character other than TAB and LF: %s', (_, text) => {
    expect(isValidText(text, 4096)).toBe(false);
  });

  it('accepts TAB and LF, and the characters around the control ranges', () => {
    expect(isValidText('col1\tcol2\nline 2', 4096)).toBe(true);
    expect(isValidText(' ~\u00a0\u00ff', 4096)).toBe(true);
  });

  it('accepts 4096 code points and refuses 4097', () => {
    expect(isValidText('x'.repeat(4096), 4096)).toBe(true);
    expect(isValidText('x'.repeat(4097), 4096)).toBe(false);
  });

  it('counts an astral character as one', () => {
    expect(isValidText('😀'.repeat(4096), 4096)).toBe(true);
    expect(isValidText('😀'.repeat(4097), 4096)).toBe(false);
    expect(isValidText(`${'😀'.repeat(4095)}xx`, 4096)).toBe(false);
  });

  it('accepts text with surrounding whitespace', () => {
    expect(isValidText('  hi  ', 4096)).toBe(true);
  });

  it('agrees with a plain code-point count for any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer({ min: 1, max: 30 }), (text, max) => {
        const expected = hasContent(text) && hasOnlyTabAndLfControls(text) && [...text].length <= max;
        expect(isValidText(text, max)).toBe(expected);
      }),
    );
  });
});
describe('server frames', () => {
  it('spells the name_taken error exactly as the seed, keys in order', () => {
    expect(JSON.stringify(errorFrame('name_taken'))).toBe(
      '{"type":"error","sender":"Server","code":"name_taken","text":"Username already taken"}',
    );
  });

  it('builds the welcome with every online name', () => {
    expect(JSON.stringify(welcomeFrame('Alice', ['Bob', 'Alice'], { session: 'S', epoch: 'E', id: '7', ts: 1 }))).toBe(
      '{"type":"welcome","sender":"Server","text":"Welcome, Alice!","name":"Alice","users":["Bob","Alice"],"session":"S","epoch":"E","id":"7","ts":1}',
    );
    expect(welcomeFrame('Alice', [], { session: 'S', epoch: 'E', resumed: true, recovered: false })).toMatchObject({
      resumed: true,
      recovered: false,
    });
  });

  it('builds join, leave and message frames', () => {
    expect(JSON.stringify(chatFrame({ type: 'join', name: 'Alice', from: 'c1', session: 's1' }, 1, AT))).toBe(
      `{"type":"join","sender":"Server","text":"Alice has joined the chat","name":"Alice","id":"1","ts":${AT}}`,
    );
    expect(JSON.stringify(chatFrame({ type: 'leave', name: 'Alice', from: 'c1', session: 's1' }, 2, AT))).toBe(
      `{"type":"leave","sender":"Server","text":"Alice has left the chat","name":"Alice","id":"2","ts":${AT}}`,
    );
    // A message keeps the time the server received it.
    expect(
      chatFrame({ type: 'message', name: 'Alice', from: 'c1', session: 's1', text: 'Hello', ts: AT }, 3, 0),
    ).toEqual({
      type: 'message',
      sender: 'Alice',
      text: 'Hello',
      id: '3',
      ts: AT,
    });
  });

  describe('echoFrame', () => {
    const message = chatFrame(
      { type: 'message', name: 'Alice', from: 'c1', session: 's1', text: 'Hello', ts: AT },
      3,
      AT,
    );

    it('anonymous: the same message without sender', () => {
      const echo = echoFrame(message, 'anonymous', undefined);
      expect(echo).toEqual({ type: 'message', text: 'Hello', id: '3', ts: AT });
      expect(echo).not.toHaveProperty('sender');
    });

    it('named: the message as everyone else sees it', () => {
      expect(echoFrame(message, 'named', undefined)).toEqual(message);
    });

    it('off: nothing', () => {
      expect(echoFrame(message, 'off', undefined)).toBeNull();
    });

    it("carries the client's cid, in every mode that echoes", () => {
      expect(echoFrame(message, 'anonymous', 'k1')).toEqual({
        type: 'message',
        text: 'Hello',
        id: '3',
        ts: AT,
        cid: 'k1',
      });
      expect(echoFrame(message, 'named', 'k1')).toEqual({ ...message, cid: 'k1' });
      expect(echoFrame(message, 'off', 'k1')).toBeNull();
    });

    it('never echoes a join or a leave', () => {
      expect(
        echoFrame(chatFrame({ type: 'join', name: 'A', from: 'c1', session: 's1' }, 1, AT), 'named', undefined),
      ).toBeNull();
    });
  });
});
