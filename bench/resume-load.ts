/**
 * The client side of the resume storm: load processes (bench/resume-client.ts), each holding
 * a share of the clients that will be dropped and some of the senders, driven together.
 */
import type { Problems } from './resume-check.js';
import { WorkerPool } from './worker.js';

export type StormCommand =
  | { cmd: 'ping' }
  | {
      cmd: 'connect';
      /** Every node's url; this process registers its clients on `urls[node]`. */
      urls: string[];
      node: number;
      /** Whether odd-numbered clients resume on the next node rather than their own. */
      switchNodes: boolean;
      /** This process's clients are numbers `first` … `first + count - 1` of `total`. */
      first: number;
      count: number;
      total: number;
      /** Client numbers that are senders (never dropped), in slot order. */
      senders: number[];
      localAddresses: string[];
      /** Handshakes in progress at once, per process, when registering and when resuming. */
      concurrency: number;
    }
  | { cmd: 'positions' }
  | { cmd: 'pace'; perSenderPerSec: number; startUs: number }
  | { cmd: 'drop' }
  | { cmd: 'awaitResumed'; timeoutMs: number }
  /** Stops the senders: per slot, the last seq sent and how many were refused (server_unavailable). */
  | { cmd: 'stop' }
  | { cmd: 'echoes'; finals: number[]; timeoutMs: number }
  | { cmd: 'catchUp'; upTo: number; timeoutMs: number }
  | { cmd: 'sequence'; after: number }
  | { cmd: 'check'; after: number; upTo: number; ids: number[]; keys: number[] }
  | { cmd: 'close' };

/** What one process saw of the storm. */
export interface ResumeReport {
  /** When its first client was dropped (µs, the monotonic clock every process shares). */
  droppedUs: number;
  resumed: number;
  /** Resumes answered with anything but a resumed welcome (session_expired, a close, a timeout). */
  failed: number;
  failures: string[];
  /** The latest resumed welcome (µs). */
  lastResumedUs: number;
  /** Per resumed client: from its new connection's start to its welcome (µs). */
  latenciesUs: number[];
  notRecovered: number;
  replayed: number;
  /** Clients that resumed on another node than the one they registered on. */
  movedNodes: number;
  /** Resumes sent again after a server_unavailable. */
  retries: number;
}

export interface CheckReport {
  dropped: Problems;
  senders: Problems;
  /** Clients left out of the comparison: their resume failed or did not recover. */
  unchecked: number;
  /** Errors, closes and frames of no known kind, over the whole run. */
  unexpectedFrames: number;
}

/** The storm's load processes, each running resume-client.ts. */
export type ResumeLoad = WorkerPool<StormCommand>;

export function startResumeLoad(processes: number): Promise<ResumeLoad> {
  return WorkerPool.start<StormCommand>(new URL('./resume-client.ts', import.meta.url), processes);
}
