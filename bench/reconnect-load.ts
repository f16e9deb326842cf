/**
 * The client side of the reconnect storm: load processes (bench/reconnect-client.ts), each
 * holding a share of the library clients (through the proxy) and of the senders (library
 * clients too, connected straight to a server that is neither cut nor killed).
 */
import type { Problems } from './resume-check.js';
import { WorkerPool } from './worker.js';

export type ReconnectCommand =
  | { cmd: 'ping' }
  | {
      cmd: 'connect';
      /** Where the storm's clients connect: the proxy. */
      clientUrl: string;
      /** Where the senders connect. */
      senderUrl: string;
      /** This process's clients are numbers `first` … `first + count - 1` of `total`. */
      first: number;
      count: number;
      total: number;
      /** Client numbers that are senders, in slot order. */
      senders: number[];
      /** Handshakes in progress at once, per process, while registering. */
      concurrency: number;
    }
  | { cmd: 'positions' }
  | { cmd: 'pace'; perSenderPerSec: number; startUs: number }
  /** How many clients left `online` after `cutUs`, and how many of them are online again. */
  | { cmd: 'status'; cutUs: number }
  | { cmd: 'report'; cutUs: number }
  /** Stops the senders: per slot, the last seq sent and how many sends were rejected. */
  | { cmd: 'stop' }
  /** Waits until every send has settled; resolves with the highest id of a sender's own copy. */
  | { cmd: 'settled'; timeoutMs: number }
  | { cmd: 'catchUp'; upTo: number; timeoutMs: number }
  | { cmd: 'sequence'; after: number }
  | { cmd: 'check'; after: number; upTo: number; ids: number[]; keys: number[] }
  | { cmd: 'close' };

export interface StormStatus {
  left: number;
  back: number;
}

/** What one process saw of the storm. */
export interface ReconnectReport {
  /** Per client that left `online` after the cut and is online again: when it was (µs, the shared monotonic clock). */
  onlineAgainUs: number[];
  /** Per such client, from noticing the loss to online again (µs). */
  outageUs: number[];
  /** Clients that left online after the cut and are not back. */
  stillOffline: number;
  /** Sockets the clients opened after the cut (each attempt once). */
  attempts: number;
  /** Attempts that ended before a welcome: the socket never opened, or it opened and was not welcomed (timeout, a close). */
  failedToOpen: number;
  notWelcomed: number;
  resumed: number;
  notRecovered: number;
  /** Clients whose session was lost and registered afresh. */
  registeredAgain: number;
  gaps: number;
  /** error events, and `closed` states: none expected. */
  errors: string[];
}

export interface ReconnectCheck {
  clients: Problems;
  senders: Problems;
  lostAfterGap: number;
}

/** The storm's load processes, each running reconnect-client.ts. */
export type ReconnectLoad = WorkerPool<ReconnectCommand>;

export function startReconnectLoad(processes: number): Promise<ReconnectLoad> {
  return WorkerPool.start<ReconnectCommand>(new URL('./reconnect-client.ts', import.meta.url), processes);
}
