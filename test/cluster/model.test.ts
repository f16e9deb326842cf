/**
 * The model-based suite of test/model (chat-model.ts) on cluster mode: two hubs, each with
 * its own node's Redis registry and bus, provided through the same actor interface as the
 * in-memory ones; clients alternate between them. Both modes pass the same property suite,
 * sessions included: a client may resume on the other node.
 */
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { it } from 'vitest';
import { hubMachine } from '../../machines/hub.machine.js';
import { clusterActors, clusterNode } from '../../src/cluster/cluster.js';
import { createLogger } from '../../src/log.js';
import { createChat } from '../support/chat-harness.js';
import { settle } from '../support/cluster.js';
import { serving } from '../support/cluster-node.js';
import { describeWithRedis, redisPerFile } from '../support/redis-server.js';
import { commands, commandsWithoutSessions } from '../model/chat-generators.js';
import { MODEL_LIMITS, MODEL_SESSIONS, type ModelSessions } from '../model/chat-model.js';
import { modelRun } from '../model/real-chat.js';
import { runToTheEnd } from '../model/chat-commands.js';

/**
 * Whether cluster mode is held to SPEC §8 here: the session commands (lost and frozen
 * connections, resumes, resends, windows running out) join the run, with a resume window.
 */
const CLUSTER_SESSIONS = true;

const redis = redisPerFile();
/** Long enough that no lease runs out during a run. */
const LEASE_MS = 60_000;
const sessions: ModelSessions = CLUSTER_SESSIONS ? MODEL_SESSIONS : {};
let runs = 0;

/**
 * A run that failed may have left names held in Redis (src/cluster/lua.ts lists the keys).
 * Shrinking must not trip over them: the next run then starts with everything but the
 * epoch and the log (ids go on growing) deleted, as if no node had ever held a name.
 */
async function startClean(url: string): Promise<void> {
  const store = new Redis(url);
  try {
    if ((await store.hlen('chat:names')) === 0) return;
    const kept = new Set(['chat:epoch', 'chat:seq', 'chat:log']);
    const stale = (await store.keys('chat:*')).filter((key) => !kept.has(key));
    await store.del(...stale);
  } finally {
    store.disconnect();
  }
}

describeWithRedis('cluster chat against the model (SPEC §7, §8)', () => {
  it(
    'keeps names unique, delivers every event exactly once in one order, refuses what it must and keeps sessions, across two nodes',
    { timeout: 120_000 },
    async () => {
      // About 15 s when it passes; the rest is for shrinking a failure to a counterexample.
      const resumeWindowMs = sessions.resumeWindowMs ?? 0;
      await fc.assert(
        fc.asyncProperty(
          fc.commands(CLUSTER_SESSIONS ? commands : commandsWithoutSessions, { maxCommands: 100, size: 'max' }),
          async (cmds) => {
            await startClean(redis().url);
            const nodes = [1, 2].map(() =>
              clusterNode(redis().url, LEASE_MS, createLogger('silent'), {
                resumeWindowMs,
                historySize: sessions.historySize,
              }),
            );
            const chat = createChat({
              limits: MODEL_LIMITS,
              sessions,
              // The runs share one Redis: each run's session ids and secrets are its own.
              keyPrefix: `run${++runs}-`,
              machines: nodes.map((node) => hubMachine.provide({ actors: clusterActors(node) })),
            });
            try {
              await Promise.all(nodes.map(serving));
              // It ends every session: the next run starts with nobody online.
              await runToTheEnd(() => modelRun(chat, sessions, () => settle(nodes)), cmds);
            } finally {
              chat.stop();
              await Promise.all(nodes.map((node) => node.close()));
            }
          },
        ),
        { numRuns: 60 },
      );
    },
  );
});
