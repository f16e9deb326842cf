/**
 * The IPC both bench servers speak with bench/target.ts: `ready` with the port once
 * listening; on `gc`, a full collection then `gcDone` (memory is read after it); on `stop`,
 * exit (after the server's own close, so a --cpu-prof profile is written).
 */
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
      process.send?.({ type: 'gcDone', heapUsedBytes: process.memoryUsage().heapUsed });
    } else if (message.type === 'stop') {
      void Promise.resolve(stop()).finally(() => process.exit(0));
    }
  });
  // The parent went away (killed, crashed): never outlive it.
  process.on('disconnect', () => process.exit(0));
}
