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
 * What each close code (PROTOCOL.md) means to the person at the keyboard. 1001 is a shutdown,
 * not a promise of a restart: nothing in the close says the server comes back. 1006 is made
 * up by the browser when the connection ends without a close frame (a network failure, or a
 * server that died). A policy close (1008) comes with its rule as the reason.
 */
const CLOSE_REASONS: Record<number, string> = {
  1001: 'The server is shutting down.',
  1006: 'Connection lost.',
  1008: 'The server closed the connection.',
  1009: 'That message was too large, so the server closed the connection.',
  1011: 'The server hit an internal error.',
  1013: 'The server is full right now.',
  4001: 'The chat lost your name while it was unavailable.',
};

/** An error frame in words: ours for the codes we know, the server's own text otherwise. */
export function errorText(code: string, serverText: string, name: string): string {
  return FRIENDLY_ERRORS[code]?.(name) ?? serverText;
}

export /** A close in words: a policy close names its rule; a code we do not know shows the server's reason, if any. */
function closeText(event: CloseEvent): string {
  if (event.code === 1008 && event.reason !== '') return `The server closed the connection: ${event.reason}.`;
  const known = CLOSE_REASONS[event.code];
  if (known !== undefined) return known;
  return event.reason === '' ? 'The connection closed.' : `The connection closed: ${event.reason}.`;
}
