/**
 * chat-backend/client: a client for the chat server that survives lost connections.
 *
 *   import { connect } from 'chat-backend/client';
 *   const chat = connect('wss://chat.example.com/ws', 'Alice');
 *   chat.on('message', (m) => show(m.sender, m.text));
 *   await chat.send('Hello');
 *
 * docs/client.md describes the events, options, states, errors and guarantees.
 */
import { ChatClient } from './client.js';
import type { ChatClientOptions } from './types.js';

/** Connects to `url` (ws://HOST:PORT/ws) as `name`, and keeps connected until close(). */
export function connect(url: string, name: string, options: ChatClientOptions = {}): ChatClient {
  return new ChatClient(url, name, options);
}

export { ChatClient } from './client.js';
export { ChatError, clientErrors, type ChatErrorCode, type ClientErrorCode } from './errors.js';
export type { BackoffBounds } from './backoff.js';
export type { Timers, WebSocketConstructor, WebSocketLike } from './host.js';
export type { ClosedReason, ConnectionState } from './lifecycle.js';
export type * from './types.js';
