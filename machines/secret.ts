/**
 * A session's secret while the hub holds it (between a claim and its welcome, or a resume
 * and its welcome). It serializes as a placeholder, so that a snapshot sent to the
 * inspector or written to a log never shows it; only the welcome frame carries the value.
 */
export class Secret {
  constructor(readonly value: string) {}

  toJSON(): string {
    return '‹secret›';
  }
}
