/**
 * The client side of a bench run: several load processes (bench/load-client.ts), each
 * holding a share of the clients, driven together over IPC. The client side runs in its own
 * processes so that its CPU can be read apart from the server's.
 */
import { readFileSync } from 'node:fs';
import { Histogram } from './histogram.js';
import { cpuOf } from './proc.js';
import { WorkerPool } from './worker.js';

export type LoadCommand =
  | {
      cmd: 'connect';
      url: string;
      /** This process's clients are `b<first>` … `b<first + count - 1>`. */
      first: number;
      count: number;
      /** Clients in the whole run: a client is complete once it knows of that many users. */
      total: number;
      /** Global client index of each sender slot. */
      senders: number[];
      localAddresses: string[];
      /** Handshakes in progress at once, per process. */
      concurrency: number;
    }
  | { cmd: 'ping' }
  | { cmd: 'measure'; on: boolean }
  | { cmd: 'saturate'; window: number }
  | { cmd: 'pace'; perSenderPerSec: number; startUs: number }
  | { cmd: 'stop' }
  | { cmd: 'drain'; finals: number[]; timeoutMs: number }
  | { cmd: 'report' }
  | { cmd: 'close' };

export interface LoadReport {
  deliveries: number;
  latency: { counts: number[]; max: number };
  problems: Record<'duplicates' | 'orderViolations' | 'errors' | 'leaves' | 'closes' | 'badFrames', number>;
  /** Per sender slot: distinct messages received, summed over this process's clients. */
  received: number[];
}

export interface LoadOptions {
  clients: number;
  senders: number;
  processes: number;
  /** Source addresses to spread clients over (127.0.0.x), when ephemeral ports run short. */
  localAddresses: string[];
  concurrency: number;
}

/**
 * Source addresses for `clients` connections: none (the kernel's choice) while the
 * ephemeral ports suffice, else as many 127.0.0.x as it takes, each with its own ports.
 */
export function sourceAddresses(clients: number): string[] {
  const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  const ports = (high ?? 60999) - (low ?? 32768);
  // Leave room for TIME_WAIT leftovers of the previous server's run.
  const needed = Math.ceil(clients / (ports / 2));
  return needed <= 1 ? [] : Array.from({ length: needed }, (_, i) => `127.0.0.${i + 1}`);
}

/** Where each sender slot lives: spread evenly over the clients, so over the processes. */
export function senderIndices(clients: number, senders: number): number[] {
  return Array.from({ length: senders }, (_, s) => Math.floor((s * clients) / senders));
}

export class Load {
  private constructor(
    private readonly pool: WorkerPool<LoadCommand>,
    readonly options: LoadOptions,
  ) {}

  /** Resolves once every load process has started and listens for commands. */
  static async start(options: LoadOptions): Promise<Load> {
    const pool = await WorkerPool.start<LoadCommand>(new URL('./load-client.ts', import.meta.url), options.processes);
    return new Load(pool, options);
  }

  get pids(): number[] {
    return this.pool.pids;
  }

  cpu(): { cpuUs: number; systemUs: number } {
    return cpuOf(this.pids);
  }

  /**
   * Connects and registers every client; resolves once each has seen every join. With
   * several urls (a cluster's nodes) consecutive load processes share a node: with as many
   * processes as nodes or a multiple of it, each node holds an equal share of the clients,
   * and of the senders when they divide evenly (10 senders over 4 processes: 5 per node).
   */
  async connect(urls: readonly string[]): Promise<void> {
    const { clients, processes, senders } = this.options;
    if (processes % urls.length !== 0) {
      throw new Error(
        `${processes} load processes cannot split the clients evenly over ${urls.length} nodes: choose --processes as a multiple of ${urls.length}`,
      );
    }
    const slots = senderIndices(clients, senders);
    await Promise.all(
      this.pool.processes.map((p, i) => {
        const first = Math.floor((i * clients) / processes);
        const count = Math.floor(((i + 1) * clients) / processes) - first;
        return p.call({
          cmd: 'connect',
          url: urls[Math.floor((i * urls.length) / processes)]!,
          first,
          count,
          total: clients,
          senders: slots,
          localAddresses: this.options.localAddresses,
          concurrency: this.options.concurrency,
        });
      }),
    );
  }

  async all(command: LoadCommand): Promise<unknown[]> {
    return this.pool.all(command);
  }

  /** Stops every sender; the last seq each sent, by slot. */
  async stop(): Promise<number[]> {
    const finals = new Array<number>(this.options.senders).fill(0);
    for (const part of (await this.all({ cmd: 'stop' })) as Record<number, number>[]) {
      for (const [slot, seq] of Object.entries(part)) finals[Number(slot)] = seq;
    }
    return finals;
  }

  async drain(finals: number[], timeoutMs: number): Promise<boolean> {
    const done = (await this.all({ cmd: 'drain', finals, timeoutMs })) as boolean[];
    return done.every(Boolean);
  }

  async report(): Promise<{
    deliveries: number;
    latency: Histogram;
    problems: LoadReport['problems'];
    received: number[];
  }> {
    const parts = (await this.all({ cmd: 'report' })) as LoadReport[];
    const latency = new Histogram();
    const received = new Array<number>(this.options.senders).fill(0);
    const problems = { duplicates: 0, orderViolations: 0, errors: 0, leaves: 0, closes: 0, badFrames: 0 };
    let deliveries = 0;
    for (const part of parts) {
      deliveries += part.deliveries;
      latency.merge(part.latency);
      part.received.forEach((n, s) => (received[s]! += n));
      for (const key of Object.keys(problems) as (keyof typeof problems)[]) problems[key] += part.problems[key];
    }
    return { deliveries, latency, problems, received };
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  kill(): void {
    this.pool.kill();
  }
}
