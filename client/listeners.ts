/** Typed listeners for the client's events: a few lines, so the client depends on nothing. */

export class Listeners<Events extends object> {
  private readonly byType = new Map<keyof Events, Set<(event: never) => void>>();

  /** `failed` hears what a listener threw, once that listener's call is over. */
  constructor(private readonly failed: (error: unknown, type: keyof Events) => void) {}

  /** Whether any listener hears `type`. */
  has(type: keyof Events): boolean {
    return (this.byType.get(type)?.size ?? 0) > 0;
  }

  /** Calls `listener` for each `type` event from now on; returns what stops it. */
  on<K extends keyof Events>(type: K, listener: (event: Events[K]) => void): () => void {
    let set = this.byType.get(type);
    if (set === undefined) this.byType.set(type, (set = new Set()));
    set.add(listener);
    return () => void set.delete(listener);
  }

  /**
   * Calls each `type` listener with `event`, while `current()` holds: a listener may call
   * back into the client and make the event stale (close() from a `state` listener), and
   * the listeners after it must not hear it then.
   */
  emit<K extends keyof Events>(type: K, event: Events[K], current: () => boolean = () => true): void {
    for (const listener of [...(this.byType.get(type) ?? [])]) {
      if (!current()) return;
      try {
        (listener as (event: Events[K]) => void)(event);
      } catch (error) {
        // A throwing listener must not leave the client half way through a step, nor keep
        // the listeners after it from hearing the event.
        this.failed(error, type);
      }
    }
  }
}
