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
  invalid_message: { text: 'A message needs non-blank text within the length limit' },
  rate_limited: { text: 'Too many messages; slow down' },
  server_unavailable: { text: 'The chat is temporarily unavailable; try again shortly' },
  name_lost: { text: 'Your name was released while the chat was unavailable; reconnect and choose a name' },
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
} as const;

/** Why a client left; logged, and later counted by metrics. `lost`: cluster mode gave its name up. */
export type LeaveCause = 'close' | 'heartbeat' | 'slow' | 'policy' | 'shutdown' | 'error' | 'lost';

/** A setting that cannot be used. main.ts prints its message as one line and exits 1. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
