/**
 * The one place where the client's error codes are spelled: the server's own codes
 * (PROTOCOL.md, Errors), passed on as they come, and a few the client adds. Codes are
 * part of the API: never rename or reuse one.
 */
import type { ErrorCode } from '../src/errors.js';

export const clientErrors = {
  closed: 'The client is closed',
  outbox_full: 'Too many messages are waiting to be sent',
  outcome_unknown:
    'The connection was lost before the server confirmed this message, and the session with it: it may or may not have been sent',
  taken_over: 'Another connection took this session over',
  rejected: 'The server closed the connection for a broken rule',
  listener_failed: "One of the app's listeners threw; the error it threw is the `cause`",
} as const satisfies Record<string, string>;

export type ClientErrorCode = keyof typeof clientErrors;

/** Every code a ChatError may carry. */
export type ChatErrorCode = ErrorCode | ClientErrorCode;

/** An error the chat reported (the server's `code` and `text`) or the client found. */
export class ChatError extends Error {
  override name = 'ChatError';
  constructor(
    readonly code: ChatErrorCode,
    text: string = code in clientErrors ? clientErrors[code as ClientErrorCode] : code,
    /** For `rejected`: the close code the server sent. */
    readonly closeCode?: number,
    /** For `rejected`: the close reason the server sent (the rule broken), or '' when it gave none. */
    readonly closeReason?: string,
    /** For `listener_failed`: what the listener threw. */
    options?: { cause: unknown },
  ) {
    super(text, options);
  }
}
