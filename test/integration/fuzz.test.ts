/**
 * Fuzzing over real sockets (SPEC §5: "no input a client can send makes the process crash,
 * leak memory or stall others").
 *
 * Each run opens two legitimate clients and up to three hostile slots. Hostile connections
 * (some registered, some not) send arbitrary frames: random bytes as binary and as text,
 * arbitrary Unicode with lone surrogates, random JSON, deep nesting, huge numbers, keys such
 * as `__proto__` and `constructor`, wrong field types, oversize frames. The legitimate
 * clients chat in between. A small oracle, written from SPEC §3 and §5 (not from src/),
 * says what each hostile frame must earn: an error code, a chat message, or a close.
 *
 * After every run: each hostile connection got exactly its errors and close code; both
 * legitimate clients saw the same sequence, which holds exactly the joins, messages and
 * leaves the oracle predicts, each source in its own order. After all runs: a newcomer
 * registers and chats, and the server's heap after GC has not run away.
 *
 * The parts: fuzz-steps.ts (what the clients send), fuzz-oracle.ts (what each hostile frame
 * earns), fuzz-run.ts (one run and its checks).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { TestSocket } from '../support/ws-client.js';
import { claim } from '../support/test-server.js';
import { run } from './fuzz-run.js';
import { step } from './fuzz-steps.js';
import { addressLimitsOff } from '../support/address-limits-off.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 25); // about 3,000 frames; FUZZ_RUNS=500 for a long hunt

describe('fuzzing over real sockets (SPEC §5)', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess({ resumeWindowMs: 0, rateBurst: 0, ...addressLimitsOff });
  });
  afterAll(async () => server?.stop());

  it('survives arbitrary frames from hostile clients, and the others see exactly what they should', async () => {
    let runs = 0;
    let frames = 0;
    const fuzz = (numRuns: number) =>
      fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 100, maxLength: 300 }), async (steps) => {
          runs++;
          frames += steps.filter((s) => s.kind !== 'drop').length;
          await run(server.url, String(runs), steps);
        }),
        { numRuns, endOnFailure: process.env.FUZZ_NO_SHRINK === '1' },
      );
    // Warm up first, so that code compiled and caches filled on first use do not count as growth.
    await fuzz(3);
    const before = await server.memory();
    await fuzz(RUNS);

    const newcomer = await TestSocket.open(server.url, { label: 'Newcomer' });
    await claim(newcomer, 'Newcomer');
    newcomer.send({ text: 'still standing' });
    expect(await newcomer.nextFrame()).toMatchObject({ type: 'message', text: 'still standing' });
    newcomer.close();
    await newcomer.waitClose();

    const after = await server.memory();
    const growthMb = (after.heapAfterGcBytes - before.heapAfterGcBytes) / 1048576;
    console.log(
      `fuzz: ${runs} runs, ${frames} frames, heap after GC ${(before.heapAfterGcBytes / 1048576).toFixed(1)} -> ${(after.heapAfterGcBytes / 1048576).toFixed(1)} MB`,
    );
    // Hundreds of connections came and went; what they left behind must not add up.
    expect(growthMb).toBeLessThan(2);
  }, 120_000);
});
