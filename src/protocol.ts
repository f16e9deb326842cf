/**
 * The wire protocol as pure functions: raw frame -> typed event, the name and text rules,
 * and builders for every server frame. No I/O; the machines and tests call these directly.
 */
import type { ChatEvent, ClientBadFrameEvent, ClientFrameEvent, ServerFrame } from './frames.js';
import type { EchoMode } from './limits.js';
import { errors, type ErrorCode } from './errors.js';

export const SERVER_NAME = 'Server';

// ---------------------------------------------------------------- reading client frames

/**
 * Reads one WebSocket message. A binary frame, invalid JSON, anything but an object, or a
 * `sender`/`text` that is present but not a string makes a bad frame. Unknown fields are
 * ignored; `null` counts as absent, as lenient JSON clients send it for "no value".
 */
export function readClientFrame(data: string | null, at: number): ClientFrameEvent | ClientBadFrameEvent {
  if (data === null) return { type: 'client.badFrame', at };
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { type: 'client.badFrame', at };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { type: 'client.badFrame', at };
  const sender = optionalString(value, 'sender');
  const text = optionalString(value, 'text');
  if (sender === false || text === false) return { type: 'client.badFrame', at };
  const event: ClientFrameEvent = { type: 'client.frame', at };
  if (sender !== undefined) event.sender = sender;
  if (text !== undefined) event.text = text.replace(LONE_SURROGATE, '\uFFFD');
  return event;
}

/**
 * Half of a surrogate pair with no other half: JSON's `\ud800` can say it, UTF-8 cannot.
 * Text keeps U+FFFD in its place, as a UTF-8 encoder would, so that every client and every
 * node (Redis stores UTF-8) sees the same text. Names holding one are refused instead.
 */
const LONE_SURROGATE = /\p{Cs}/gu;

/** The field's string value, undefined when absent or null, false when of another type. */
function optionalString(object: object, key: 'sender' | 'text'): string | undefined | false {
  // Own properties only: a `__proto__` key from JSON.parse is data, never a prototype.
  if (!Object.hasOwn(object, key)) return undefined;
  const value: unknown = (object as Record<string, unknown>)[key];
  if (value === null || value === undefined) return undefined;
  return typeof value === 'string' ? value : false;
}

// ---------------------------------------------------------------- what shows

/**
 * A character that counts as content: not white space, a control or format character, one
 * Unicode says to render as nothing (default-ignorable: fillers, variation selectors), or
 * the blank Braille pattern U+2800, a printable character that shows as a space.
 * A name or text without one (a zero-width space alone, a lone NUL) would show as nothing.
 */
const VISIBLE = /[^\s\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\u2800]/u;

/** Characters that show as nothing, dropped from a name's key (see VISIBLE). */
const SHOWS_AS_NOTHING = /[\p{Default_Ignorable_Code_Point}\u2800]/gu;

// ---------------------------------------------------------------- names

/**
 * Control (Cc), format (Cf), lone surrogate (Cs) and line or paragraph separator (Zl, Zp)
 * code points: invisible, unsendable, or able to fake a line break where a client prints
 * "name: text".
 */
const FORBIDDEN_IN_NAMES = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

/** The name as it will be shown: NFC-normalised and trimmed. */
export function normaliseName(raw: string): string {
  return raw.normalize('NFC').trim();
}

/**
 * The key under which a name is unique: close to Unicode's NFKC_Casefold, the form it
 * recommends for matching identifiers, so that names which show alike are one name.
 * - Compatibility forms fold to their plain letters: "Ｓｅｒｖｅｒ" (fullwidth) and "𝐒𝐞𝐫𝐯𝐞𝐫"
 *   are the reserved name, "ﬁ" is "fi".
 * - Characters that show as nothing are dropped: "Alice" followed by a variation selector
 *   is taken while Alice is online.
 * - Unlike NFKC_Casefold, dotless "ı" becomes "i" (upper-casing gives "I"): "Dıana" is
 *   "Diana". On the safe side: the two look alike.
 * - Upper- then lower-casing folds more than lower-casing alone ("Straße" and "STRASSE",
 *   final and medial sigma); lower-casing first takes capital sharp s "ẞ", which has no
 *   upper-case mapping to "SS", to "ß" before the round trip.
 * - Casing runs on the decomposed name, as Unicode's caseless matching does: composed, a
 *   capital vowel with iota subscript ("ῼ͂", U+1FFC U+0342) upper-cases with its iota before
 *   the accent, while "ῷ" keeps it after.
 * - The final trim: decomposing "¨" gives a space and a combining mark, and a key must
 *   fold to itself.
 * Look-alikes from other scripts (Cyrillic "А" for Latin "A") stay apart: telling those
 * needs Unicode's confusables table, not folding.
 */
export function foldName(name: string): string {
  return normaliseName(name)
    .normalize('NFKD')
    .toLowerCase()
    .toUpperCase()
    .toLowerCase()
    .replace(SHOWS_AS_NOTHING, '')
    .normalize('NFKC')
    .trim();
}

/** Whether a requested name may be used at all (not whether it is free). */
export function isValidName(raw: string, maxLength: number): boolean {
  const name = normaliseName(raw);
  if (!VISIBLE.test(name) || codePointLength(name) > maxLength) return false;
  if (FORBIDDEN_IN_NAMES.test(name)) return false;
  return foldName(name) !== foldName(SERVER_NAME);
}

// ---------------------------------------------------------------- messages

/** Whether a chat text may be sent: some content (see VISIBLE), and at most `maxLength` code points. */
export function isValidText(text: string, maxLength: number): boolean {
  // Cheap checks first: a UTF-16 length within the limit is always within it in code points.
  if (text.length > maxLength * 2) return false;
  if (!VISIBLE.test(text)) return false;
  return text.length <= maxLength || codePointLength(text) <= maxLength;
}

function codePointLength(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

// ---------------------------------------------------------------- server frames

export function errorFrame(code: ErrorCode): ServerFrame {
  return { type: 'error', sender: SERVER_NAME, code, text: errors[code].text };
}

export function welcomeFrame(name: string, users: string[]): ServerFrame {
  return { type: 'welcome', sender: SERVER_NAME, text: `Welcome, ${name}!`, name, users };
}

/** The frame every other member receives for a chat event with sequence number `seq`. */
export function chatFrame(event: ChatEvent, seq: number): ServerFrame {
  switch (event.type) {
    case 'join':
      return { type: 'join', sender: SERVER_NAME, text: `${event.name} has joined the chat`, name: event.name };
    case 'leave':
      return { type: 'leave', sender: SERVER_NAME, text: `${event.name} has left the chat`, name: event.name };
    case 'message':
      return { type: 'message', sender: event.name, text: event.text, id: String(seq), ts: event.ts };
  }
}

/** The sender's own copy of its message under each echo mode; null when it gets none. */
export function echoFrame(frame: ServerFrame, mode: EchoMode): ServerFrame | null {
  if (frame.type !== 'message' || mode === 'off') return null;
  if (mode === 'named') return frame;
  return { type: 'message', text: frame.text, id: frame.id, ts: frame.ts };
}
