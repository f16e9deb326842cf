/**
 * The model-based suite of test/model (chat-model.ts) on cluster mode: two hubs, each with
 * its own node's Redis registry and bus, provided through the same actor interface as the
 * in-memory ones; clients alternate between them. Both modes pass the same property suite.
 */
import fc from 'fast-check';
import { it } from 'vitest';
import { hubMachine } from '../../machines/hub.machine.js';
import { clusterActors, clusterNode } from '../../src/cluster/cluster.js';
import { createLogger } from '../../src/log.js';
import { createChat } from '../support/chat-harness.js';
import { settle } from '../support/cluster.js';
import { serving } from '../support/cluster-node.js';
import { describeWithRedis, redisPerFile } from '../support/redis-server.js';
import { commands } from '../model/chat-generators.js';
import { MODEL_LIMITS } from '../model/chat-model.js';
import { modelRun } from '../model/real-chat.js';

const redis = redisPerFile();
/** Long enough that no lease runs out during a run. */
const LEASE_MS = 60_000;

describeWithRedis('cluster chat against the model (SPEC §7)', () => {
  it('keeps names unique, delivers every event exactly once in one order, and refuses what it must, across two nodes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 100, size: 'max' }), async (cmds) => {
        const nodes = [1, 2].map(() => clusterNode(redis().url, LEASE_MS, createLogger('silent')));
        const chat = createChat({
          limits: MODEL_LIMITS,
          machines: nodes.map((node) => hubMachine.provide({ actors: clusterActors(node) })),
        });
        try {
          await Promise.all(nodes.map(serving));
          await fc.asyncModelRun(() => modelRun(chat, () => settle(nodes)), cmds);
        } finally {
          chat.stop();
          // Leaving announces every name still held: the next run starts with nobody online.
          await Promise.all(nodes.map((node) => node.close()));
        }
      }),
      { numRuns: 60 },
    );
  });
});
