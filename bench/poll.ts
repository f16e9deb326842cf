/**
 * Resolves once `done()` holds, or false after `timeoutMs`. For the load processes, whose
 * state changes with every frame: what is timed (a welcome's arrival, a client back online)
 * is read as each event comes, never when this notices.
 */
export async function poll(done: () => boolean, timeoutMs: number, everyMs = 5): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return true;
}
