/**
 * Where this client is in the chat's one order: the `id` of the last join, message or
 * leave it processed (its position, PROTOCOL.md), within the welcome's `epoch`. It keeps a
 * replay that overlaps live frames, or a resend's second copy, from being shown twice.
 */

/** What to do with an arriving chat frame. */
export type Verdict =
  /** Next in the order: show it; it is the new position. */
  | 'fresh'
  /** Sent for `history` on arrival: older than the client's own join, so show it without moving. */
  | 'history'
  /** At or before the position: already shown. */
  | 'seen';

export class Position {
  private epoch: string | null = null;
  private last: string | null = null;
  /**
   * While history on arrival comes in: the welcome's own `id` (history is all older), and
   * the position before it if the epoch went on (what was already shown, when the name was
   * registered again after its session expired).
   */
  private history: { before: number; shown: number | null } | null = null;

  /** The position to resume from, if any. */
  get since(): string | undefined {
    return this.last ?? undefined;
  }

  /** A registration's welcome: it stands for the client's own join, at `id`. */
  registered(epoch: string, id: string | undefined): void {
    const sameLineage = epoch === this.epoch && this.last !== null;
    this.history = id === undefined ? null : { before: Number(id), shown: sameLineage ? Number(this.last) : null };
    this.epoch = epoch;
    if (id !== undefined) this.last = id;
    else if (!sameLineage) this.last = null;
  }

  /** A resume's welcome: positions from another epoch mean nothing any more. */
  resumed(epoch: string): void {
    this.history = null;
    if (epoch !== this.epoch) this.last = null;
    this.epoch = epoch;
  }

  /** Where a frame at `id` stands; a fresh one becomes the position. */
  admit(frame: { id: string; replay?: true }): Verdict {
    const id = Number(frame.id); // ids stay below 2^53: compared as numbers, exactly
    if (this.history !== null) {
      if (frame.replay === true && id < this.history.before) {
        return this.history.shown !== null && id <= this.history.shown ? 'seen' : 'history';
      }
      this.history = null;
    }
    if (this.last !== null && id <= Number(this.last)) return 'seen';
    this.last = frame.id;
    return 'fresh';
  }
}
