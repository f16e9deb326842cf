/**
 * Server frames as SPEC §2–§4 spells them, written out literally (not built with
 * src/protocol.ts) so that socket tests check the code against the contract, not itself.
 */
import { expect } from 'vitest';
import type { Frame } from './ws-client.js';

/** Where a chat event sits (SPEC §8): an id in the one sequence, and a time. */
const position = () => ({ id: expect.stringMatching(/^\d+$/), ts: expect.any(Number) });

export const join = (name: string): Frame => ({
  type: 'join',
  sender: 'Server',
  text: `${name} has joined the chat`,
  name,
  ...position(),
});

export const leave = (name: string): Frame => ({
  type: 'leave',
  sender: 'Server',
  text: `${name} has left the chat`,
  name,
  ...position(),
});

/** SPEC §2 fixes name_taken's text (the seed's); other codes only need some text. */
export const nameTaken: Frame = { type: 'error', sender: 'Server', code: 'name_taken', text: 'Username already taken' };

export const error = (code: string): Frame => ({ type: 'error', sender: 'Server', code, text: expect.any(String) });

/** A welcome for `name` whose `users` are exactly `users`, in any order. */
export const welcome = (name: string, users: string[]): Frame => ({
  type: 'welcome',
  sender: 'Server',
  text: `Welcome, ${name}!`,
  name,
  users: expect.toSatisfy(
    (got: unknown) => Array.isArray(got) && JSON.stringify([...got].sort()) === JSON.stringify([...users].sort()),
    `users to be ${JSON.stringify(users)} in any order`,
  ),
  session: expect.any(String),
  epoch: expect.any(String),
  id: expect.stringMatching(/^\d+$/),
  ts: expect.any(Number),
});

/** A chat message as other clients see it. */
export const message = (sender: string, text: string): Frame => ({
  type: 'message',
  sender,
  text,
  ...position(),
});

/** The sender's own copy under the default echo (`anonymous`): no `sender` key at all. */
export function expectOwnCopy(frame: Frame, text: string): void {
  expect(frame).toStrictEqual({ type: 'message', text, id: expect.any(String), ts: expect.any(Number) });
}

/**
 * PROTOCOL.md §2's test of a chat text, code point by code point: it has content when some
 * character is neither white space, control, format, default-ignorable nor the blank
 * Braille pattern U+2800.
 */
export const hasContent = (text: string): boolean =>
  [...text].some(
    (c) => c.trim() !== '' && c !== '\u2800' && !/[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}]/u.test(c),
  );

/** PROTOCOL.md §3: the control characters a text may hold are TAB and LF. */
export const hasOnlyTabAndLfControls = (text: string): boolean =>
  [...text].every((c) => {
    const code = c.codePointAt(0)!;
    return code === 0x09 || code === 0x0a || !(code < 0x20 || (code >= 0x7f && code <= 0x9f));
  });

/** PROTOCOL.md §3: a text the server relays (leaving its length aside). */
export const isSendable = (text: string): boolean => hasContent(text) && hasOnlyTabAndLfControls(text);

/** PROTOCOL.md §3: a text as delivered, half a surrogate pair replaced by U+FFFD. */
export const asDelivered = (text: string): string =>
  [...text].map((c) => (c.length === 1 && c >= '\ud800' && c <= '\udfff' ? '\ufffd' : c)).join('');
