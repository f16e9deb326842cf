/**
 * The end of a storm, the same for the resume and the reconnect storm: the senders stop,
 * every client catches up with the last message, and each load process checks its clients
 * against one sequence, sender 0's, which is itself checked against what the senders sent.
 */
import { addProblems, checkSequence, noProblems, problemCount, type Problems } from './resume-check.js';
import type { BenchContext } from './runner.js';

/** The storms' load processes, as the verdict calls them (bench/worker.ts's WorkerPool). */
export interface StormLoad {
  readonly processes: ReadonlyArray<{ call<T>(command: object): Promise<T> }>;
  all<T>(command: object): Promise<T[]>;
}

const CATCH_UP_MS = 20_000;

/**
 * Stops the senders, then waits (the storm's own `settle` command) until every process says
 * up to which id the senders' messages landed, and for every client to get that far.
 */
export async function stopAndSettle(
  ctx: BenchContext,
  kind: string,
  load: StormLoad,
  senders: number,
  settle: (finals: number[]) => object,
): Promise<{ finals: number[]; refused: number[]; upTo: number }> {
  const finals = new Array<number>(senders).fill(0);
  const refused = new Array<number>(senders).fill(0);
  for (const part of await load.all<Record<number, { final: number; refused: number }>>({ cmd: 'stop' })) {
    for (const [slot, sent] of Object.entries(part)) {
      finals[Number(slot)] = sent.final;
      refused[Number(slot)] = sent.refused;
    }
  }
  const upTo = Math.max(...(await load.all<number>(settle(finals))));
  const caughtUp = await load.all<boolean>({ cmd: 'catchUp', upTo, timeoutMs: CATCH_UP_MS });
  if (!caughtUp.every(Boolean)) ctx.progress(`${kind}: some clients were still behind 20 s after the senders stopped`);
  return { finals, refused, upTo };
}

/**
 * Every process's check of its clients from `after` to `upTo` against sender 0's sequence
 * (sender 0 is the first client of the first process), with the clients' and the senders'
 * problems summed; the first of each is told as progress.
 */
export async function checkAgainstSender0<Check extends { senders: Problems }>(
  ctx: BenchContext,
  kind: string,
  load: StormLoad,
  span: { after: number; upTo: number; finals: number[]; refused: number[] },
  clientsOf: (check: Check) => Problems,
): Promise<{ checks: Check[]; clients: Problems; senders: Problems; sequence: { ids: number[]; keys: number[] } }> {
  const { after, upTo, finals, refused } = span;
  const sequence = await load.processes[0]!.call<{ ids: number[]; keys: number[] }>({ cmd: 'sequence', after });
  const checks = await load.all<Check>({ cmd: 'check', after, upTo, ...sequence });
  const clients = checks.reduce((sum, c) => addProblems(sum, clientsOf(c)), noProblems());
  const senders = checks.reduce((sum, c) => addProblems(sum, c.senders), checkSequence(sequence.keys, finals, refused));
  for (const found of [clients, senders])
    if (found.first !== null) ctx.progress(`${kind}: ${found.first} (${problemCount(found)} problems in all)`);
  return { checks, clients, senders, sequence };
}
