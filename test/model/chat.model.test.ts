/**
 * The model-based suite (test/model/chat-model.ts) against the chat in one process: the
 * in-memory registry and bus. test/cluster/model.test.ts runs the same suite on Redis.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { createChat } from '../support/chat-harness.js';
import { commands } from './chat-generators.js';
import { MODEL_LIMITS } from './chat-model.js';
import { modelRun } from './real-chat.js';

describe('chat against a model of who is online and which frames are owed', () => {
  it('keeps names unique, delivers every event exactly once in one order, and refuses what it must', async () => {
    await fc.assert(
      // size 'max': sequences up to maxCommands long, not fast-check's default of about ten.
      fc.asyncProperty(fc.commands(commands, { maxCommands: 100, size: 'max' }), (cmds) =>
        fc.asyncModelRun(() => modelRun(createChat({ limits: MODEL_LIMITS })), cmds),
      ),
      { numRuns: 250 },
    );
  });
});
