/**
 * The one place where protocol error codes, close codes and their texts are spelled.
 *
 * Codes are part of the wire contract: never rename or reuse one. A test checks that
 * PROTOCOL.md lists exactly the keys of `errors`.
 */
export const errors = {
  bad_frame: { text: 'Each frame must be a UTF-8 text frame holding one JSON object with string fields' },
  not_registered: { text: 'Choose a name first: send {"sender":"YourName","text":""}' },
  invalid_name: { text: 'That name cannot be used' },
  name_taken: { text: 'Username already taken' },
  invalid_message: {
    text: 'A message needs non-blank text within the length limit, without control characters but tab and line feed',
  },
  rate_limited: { text: 'Too many messages; slow down' },
  server_unavailable: { text: 'The chat is temporarily unavailable; try again shortly' },
  name_lost: { text: 'Your name was released while the chat was unavailable; reconnect and choose a name' },
  session_expired: { text: 'That session is unknown or has ended; choose a name' },
  too_many_names: { text: 'Too many names are held from your address; free one first' },
  too_many_registrations: { text: 'Too many names were claimed from your address lately; try again in a minute' },
} as const satisfies Record<string, { text: string }>;

export type ErrorCode = keyof typeof errors;

/** WebSocket close codes the server uses (RFC 6455 §7.4.1). */
export const closeCodes = {
  shutdown: 1001,
  /** Sent by ws itself, never by our code: a frame that breaks RFC 6455. */
  protocolError: 1002,
  policy: 1008,
  tooBig: 1009,
  internal: 1011,
  full: 1013,
  /** Private-use range (RFC 6455 §7.4.2): cluster mode gave this client's name up. */
  nameLost: 4001,
  /** Private-use range: a newer connection resumed this client's session. */
  takenOver: 4002,
} as const;

export type CloseCode = (typeof closeCodes)[keyof typeof closeCodes];

/** Reasons sent in close frames; kept short because a close reason is limited to 123 bytes. */
export const closeReasons = {
  registerTimeout: 'no name registered in time',
  tooManyRefusals: 'too many refused names',
  tooManyBadFrames: 'too many bad frames',
  shutdown: 'server shutting down',
  internal: 'internal error',
  nameLost: 'name lost while the chat was unavailable',
  takenOver: 'session taken over by a newer connection',
} as const;

/**
 * Why a connection ended; logged, and counted by metrics. `close`: the client's own clean
 * close (1000 or 1001); `dropped`: its socket ended any other way; `lost`: cluster mode gave
 * its name up; `takenOver`: a newer connection resumed its session.
 */
export type LeaveCause =
  'close' | 'dropped' | 'heartbeat' | 'slow' | 'policy' | 'shutdown' | 'error' | 'lost' | 'takenOver';

/**
 * Why a session ended and its leave was announced: how its last connection ended (when
 * that ends a session at once), or `expired` (nobody resumed it within RESUME_WINDOW_MS),
 * or `evicted` (the oldest waiting session, when MAX_CONNECTIONS sessions were waiting).
 */
export type SessionEndCause = LeaveCause | 'expired' | 'evicted';

/**
 * Connection ends that keep the session for a resume (PROTOCOL.md, Sessions): everything
 * but the client's own clean close, a broken rule, and a name cluster mode gave up.
 */
export function keepsSession(cause: LeaveCause): boolean {
  return cause !== 'close' && cause !== 'policy' && cause !== 'lost' && cause !== 'takenOver';
}

/**
 * A client's own close with one of these codes ends its session; any other keeps it.
 * 1005 is a close frame without a code, which is what a browser's `close()` sends: a close
 * frame all the same, and the client's own choice to go.
 */
export function isCleanClose(code: number): boolean {
  return code === 1000 || code === 1001 || code === 1005;
}

/** A setting that cannot be used. main.ts prints its message as one line and exits 1. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
