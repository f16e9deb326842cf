/**
 * What the chat page says when the server refuses something or the connection closes: the
 * codes of PROTOCOL.md in words for the person at the keyboard.
 */

/** What each error means to the person at the keyboard; the server's own text otherwise. */
const FRIENDLY_ERRORS: Record<string, (name: string) => string> = {
  name_taken: (name) => `“${name}” is already taken. Try another name.`,
  invalid_name: () =>
    'That name can’t be used: it must be 1–32 characters, without invisible characters, and not “Server”.',
  rate_limited: () => 'You’re sending messages too fast. Wait a moment, then try again.',
  invalid_message: () => 'That message is empty or too long.',
  server_unavailable: () => 'The chat is unavailable for a moment. Try again shortly.',
  name_lost: () => 'The chat lost your name while it was unavailable. Join again.',
};

/**
 * What each close code (PROTOCOL.md) means to the person at the keyboard, for the closes
 * that stop the client library (a broken rule, a session taken over); it reconnects after
 * the others. 1001 is a shutdown, not a promise of a restart. 1006 is made up by the browser
 * when the connection ends without a close frame. A policy close (1008) comes with its rule
 * as the reason.
 */
const CLOSE_REASONS: Record<number, string> = {
  1001: 'The server is shutting down.',
  1006: 'Connection lost.',
  1008: 'The server closed the connection.',
  1009: 'That message was too large, so the server closed the connection.',
  1011: 'The server hit an internal error.',
  1013: 'The server is full right now.',
  4001: 'The chat lost your name while it was unavailable.',
  4002: 'Another connection took over your place in the chat.',
};

/**
 * Why the page is reconnecting: the server's last word if it gave one (`server_unavailable`
 * while registering), else what the close code says; a lost connection otherwise.
 */
export function reconnectingText(closeCode: number | undefined, lastError: string | null): string {
  const why =
    lastError === 'server_unavailable'
      ? 'The chat is unavailable for a moment.'
      : closeCode === 1001
        ? 'The server is restarting or shutting down.'
        : closeCode === 1011 || closeCode === 1013
          ? CLOSE_REASONS[closeCode]!
          : 'Connection lost.';
  return `${why} Reconnecting… Messages you send meanwhile go once it is back.`;
}

/** Why a message was not sent, for what the client library adds to the server's codes (client/errors.ts). */
const SEND_FAILURES: Record<string, string> = {
  outbox_full: 'Too many messages are waiting to be sent. Wait until you are back online.',
  outcome_unknown: 'The connection was lost before that message was confirmed: it may not have been sent.',
};

/** An error frame in words: ours for the codes we know, the server's own text otherwise. */
export function errorText(code: string, serverText: string, name: string): string {
  return FRIENDLY_ERRORS[code]?.(name) ?? serverText;
}

/** A message that was not sent, in words: the server's refusal or the client's reason. */
export function sendFailedText(code: string, text: string): string {
  return SEND_FAILURES[code] ?? errorText(code, text, '');
}

/** A close in words: a policy close names its rule; a code we do not know shows the server's reason, if any. */
export function closeText(code: number, reason: string): string {
  if (code === 1008 && reason !== '') return `The server closed the connection: ${reason}.`;
  const known = CLOSE_REASONS[code];
  if (known !== undefined) return known;
  return reason === '' ? 'The connection closed.' : `The connection closed: ${reason}.`;
}
