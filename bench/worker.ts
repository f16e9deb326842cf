/**
 * A bench child process driven over IPC: the parent calls a command and gets its result (or
 * its error) back; the child answers every command with `answerCommands`. The load processes
 * of the fan-out (load-client.ts) and of the resume and reconnect storms (resume-client.ts,
 * reconnect-client.ts) are all this.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export class Worker<Command> {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(readonly child: ChildProcess) {
    child.on('message', (message: { id: number; result?: unknown; error?: string }) => {
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error !== undefined) waiter?.reject(new Error(message.error));
      else waiter?.resolve(message.result);
    });
    child.on('exit', (code) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`load process exited (${String(code)})`));
      this.pending.clear();
    });
  }

  /** Forks `module` under the same loader as the bench (tsx). */
  static fork<Command>(module: URL): Worker<Command> {
    return new Worker<Command>(
      fork(module, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  call<T>(command: Command): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, command });
    });
  }

  /** Sends `close` (whose handler exits) and waits for the exit. */
  async close(command: Command): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    await this.call(command).catch(() => undefined);
    await exited;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** Commands every pool's children answer: a first call to see each is up, and the last. */
type PoolCommand = { cmd: 'ping' } | { cmd: 'close' };

/**
 * Load processes of one kind (the resume storm's, the reconnect storm's), all running
 * `module`, called together.
 */
export class WorkerPool<Command extends { cmd: string }> {
  private constructor(readonly processes: Worker<Command | PoolCommand>[]) {}

  /** Forks `count` processes of `module` and waits until each answers. */
  static async start<Command extends { cmd: string }>(module: URL, count: number): Promise<WorkerPool<Command>> {
    const pool = new WorkerPool<Command>(
      Array.from({ length: count }, () => Worker.fork<Command | PoolCommand>(module)),
    );
    try {
      await pool.all({ cmd: 'ping' });
    } catch (err) {
      pool.kill();
      throw err;
    }
    return pool;
  }

  get pids(): number[] {
    return this.processes.map((p) => p.pid);
  }

  /** Every process's answer to `command`, in process order. */
  all<T>(command: Command | PoolCommand): Promise<T[]> {
    return Promise.all(this.processes.map((p) => p.call<T>(command)));
  }

  async close(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.close({ cmd: 'close' })));
  }

  kill(): void {
    for (const p of this.processes) p.kill();
  }
}

/** The child's side: each command's result (or error) goes back under its id; it never outlives the parent. */
export function answerCommands<Command>(handle: (command: Command) => Promise<unknown>): void {
  process.on('message', (message: { id: number; command: Command }) => {
    handle(message.command).then(
      (result) => process.send?.({ id: message.id, result }),
      (err: Error) => process.send?.({ id: message.id, error: err.message }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}
