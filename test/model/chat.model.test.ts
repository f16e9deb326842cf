/**
 * The model-based suite (test/model/chat-model.ts) against the chat in one process: the
 * in-memory registry and bus. test/cluster/model.test.ts runs the same suite on Redis.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { createChat } from '../support/chat-harness.js';
import { runToTheEnd } from './chat-commands.js';
import { commands } from './chat-generators.js';
import { MODEL_LIMITS, MODEL_SESSIONS } from './chat-model.js';
import { modelRun } from './real-chat.js';

// size 'max': sequences up to maxCommands long, not fast-check's default of about ten.
const sequences = fc.commands(commands, { maxCommands: 100, size: 'max' });

describe('chat against a model of sessions, who is online and which frames are owed', () => {
  it('keeps names unique, delivers every event exactly once in one order, and refuses what it must', async () => {
    // No resume window (RESUME_WINDOW_MS=0): every lost connection is a leave at once, a
    // resume only takes over a connection still open.
    await fc.assert(
      fc.asyncProperty(sequences, (cmds) => runToTheEnd(() => modelRun(createChat({ limits: MODEL_LIMITS })), cmds)),
      { numRuns: 100 },
    );
  });

  it('keeps sessions across lost connections: nothing missed or repeated, no leave or join while one lives, one leave when it ends', async () => {
    await fc.assert(
      fc.asyncProperty(sequences, (cmds) =>
        runToTheEnd(
          () => modelRun(createChat({ limits: MODEL_LIMITS, sessions: MODEL_SESSIONS }), MODEL_SESSIONS),
          cmds,
        ),
      ),
      { numRuns: 200 },
    );
  });
});
