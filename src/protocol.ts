/**
 * The wire protocol as pure functions: raw frame -> typed event, the name and text rules,
 * and builders for every server frame. No I/O; the machines and tests call these directly.
 */
import type { ChatEvent, ChatFrame, ClientBadFrameEvent, ClientFrameEvent, ServerFrame } from './frames.js';
import type { EchoMode } from './limits.js';
import { errors, type ErrorCode } from './errors.js';

export const SERVER_NAME = 'Server';

// ---------------------------------------------------------------- reading client frames

/**
 * Reads one WebSocket message. A binary frame, invalid JSON, anything but an object, or a
 * known field of the wrong type makes a bad frame: `sender`, `text`, `session`, `epoch`,
 * `since` and `cid` must be strings, `history` a whole number from 0 up. Unknown fields are
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
  const event: ClientFrameEvent = { type: 'client.frame', at };
  for (const key of STRING_FIELDS) {
    const field = optionalField(value, key);
    if (field === undefined) continue;
    if (typeof field !== 'string') return { type: 'client.badFrame', at };
    event[key] = key === 'text' ? field.replace(LONE_SURROGATE, '\uFFFD') : field;
  }
  const history = optionalField(value, 'history');
  if (history !== undefined) {
    if (typeof history !== 'number' || !Number.isSafeInteger(history) || history < 0)
      return { type: 'client.badFrame', at };
    event.history = history;
  }
  return event;
}

const STRING_FIELDS = ['sender', 'text', 'session', 'epoch', 'since', 'cid'] as const;

/**
 * Half of a surrogate pair with no other half: JSON's `\ud800` can say it, UTF-8 cannot.
 * Text keeps U+FFFD in its place, as a UTF-8 encoder would, so that every client and every
 * node (Redis stores UTF-8) sees the same text. Names holding one are refused instead.
 */
const LONE_SURROGATE = /\p{Cs}/gu;

/** The field's value, undefined when absent or null. */
function optionalField(object: object, key: string): unknown {
  // Own properties only: a `__proto__` key from JSON.parse is data, never a prototype.
  if (!Object.hasOwn(object, key)) return undefined;
  const value: unknown = (object as Record<string, unknown>)[key];
  return value === null ? undefined : value;
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

/**
 * Control characters a text may not hold: the C0 controls but TAB and LF (ESC starts a
 * terminal's escape sequences, BEL rings it, CR returns to the line's start and lets a line
 * be overwritten, BS erases), DEL, and the C1 controls (0x9B is CSI, ESC [, to some
 * terminals). A client printing `${sender}: ${text}` in a terminal, like the seed's, would
 * act on them. TAB and LF are plain text.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const FORBIDDEN_IN_TEXT = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/;

/**
 * Whether a chat text may be sent: some content (see VISIBLE), no control character but
 * TAB and LF (FORBIDDEN_IN_TEXT), and at most `maxLength` code points.
 */
export function isValidText(text: string, maxLength: number): boolean {
  // Cheap checks first: a UTF-16 length within the limit is always within it in code points.
  if (text.length > maxLength * 2) return false;
  if (!VISIBLE.test(text) || FORBIDDEN_IN_TEXT.test(text)) return false;
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

/** The session fields of a welcome: a new session's, or a resumed one's with whether it recovered. */
export type WelcomeSession =
  | { session: string; epoch: string; id: string; ts: number }
  | { session: string; epoch: string; resumed: true; recovered: boolean };

export function welcomeFrame(name: string, users: string[], session: WelcomeSession): ServerFrame {
  return { type: 'welcome', sender: SERVER_NAME, text: `Welcome, ${name}!`, name, users, ...session };
}

/** The frame every other member receives for a chat event with sequence number `seq`, ordered at `ts`. */
export function chatFrame(event: ChatEvent, seq: number, ts: number): ChatFrame {
  const id = String(seq);
  switch (event.type) {
    case 'join':
      return { type: 'join', sender: SERVER_NAME, text: `${event.name} has joined the chat`, name: event.name, id, ts };
    case 'leave':
      return { type: 'leave', sender: SERVER_NAME, text: `${event.name} has left the chat`, name: event.name, id, ts };
    case 'message':
      return { type: 'message', sender: event.name, text: event.text, id, ts: event.ts };
  }
}

/**
 * The sender's own copy of its message under each echo mode; null when it gets none.
 * It carries the message's `cid`, if the client gave one, so the client can match it.
 */
export function echoFrame(frame: ChatFrame, mode: EchoMode, cid: string | undefined): ChatFrame | null {
  if (frame.type !== 'message' || mode === 'off') return null;
  const own: ChatFrame =
    mode === 'named' ? { ...frame } : { type: 'message', text: frame.text, id: frame.id, ts: frame.ts };
  if (cid !== undefined) own.cid = cid;
  return own;
}

/** A frame sent again from history: as it was, marked `replay`. */
export function replayed(frame: ChatFrame): ChatFrame {
  return { ...frame, replay: true };
}

/** Longest `cid` a chat message may carry, in code points (PROTOCOL.md). */
export const CID_MAX_LENGTH = 64;

/** Whether a chat message's `cid` may be used: absent, or 1 to CID_MAX_LENGTH code points. */
export function isValidCid(cid: string | undefined): boolean {
  if (cid === undefined) return true;
  return cid.length > 0 && cid.length <= CID_MAX_LENGTH * 2 && codePointLength(cid) <= CID_MAX_LENGTH;
}

/**
 * A resume's `since` as a sequence number, or null when it is not a decimal integer the
 * server could have sent (then nothing can be recovered from it).
 */
export function parsePosition(since: string | undefined): number | null {
  if (since === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(since)) return null;
  const seq = Number(since);
  return Number.isSafeInteger(seq) ? seq : null;
}
