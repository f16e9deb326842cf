/**
 * The IPC both bench servers speak with bench/target.ts: `ready` with the port once
 * listening; on `gc`, a full collection then `gcDone` with the heap figures the bench
 * needs; on `stop`, exit (after the server's own close, so a --cpu-prof profile is written).
 */
import { getHeapSpaceStatistics } from 'node:v8';

export interface GcDone {
  type: 'gcDone';
  heapUsedBytes: number;
  /**
   * Memory V8 holds for its young generation. It grows with the recent allocation rate
   * (up to tens of MB after a storm) and shrinks only after a while idle, whatever the
   * number of connections, so the bench takes it out of RSS.
   */
  newSpaceBytes: number;
}

export function reportReady(port: number): void {
  process.send?.({ type: 'ready', port });
}

export function obeyParent(stop: () => Promise<void> | void): void {
  process.on('message', (message: { type: string }) => {
    if (message.type === 'gc') {
      const gc = (globalThis as { gc?: () => void }).gc;
      // Twice: the first pass may only promote what the second then frees.
      gc?.();
      gc?.();
      const newSpace = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
      process.send?.({
        type: 'gcDone',
        heapUsedBytes: process.memoryUsage().heapUsed,
        newSpaceBytes: newSpace?.space_size ?? 0,
      } satisfies GcDone);
    } else if (message.type === 'stop') {
      void Promise.resolve(stop()).finally(() => process.exit(0));
    }
  });
  // The parent went away (killed, crashed): never outlive it.
  process.on('disconnect', () => process.exit(0));
}
