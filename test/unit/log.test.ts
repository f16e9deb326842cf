/** What a log line copies of a client-chosen value (src/log.ts). */
import { describe, expect, it } from 'vitest';
import { clipped, LOGGED_CHARS } from '../../src/log.js';

describe('clipped', () => {
  it('keeps a value up to LOGGED_CHARS as it is', () => {
    expect(clipped(undefined)).toBeUndefined();
    expect(clipped('')).toBe('');
    expect(clipped('x'.repeat(LOGGED_CHARS))).toBe('x'.repeat(LOGGED_CHARS));
  });

  it('cuts a longer one with a marker counting what was left out', () => {
    expect(clipped('x'.repeat(LOGGED_CHARS + 10))).toBe(`${'x'.repeat(LOGGED_CHARS)}…[10 more characters]`);
  });

  it('never cuts a surrogate pair in half', () => {
    const value = `${'x'.repeat(LOGGED_CHARS - 1)}😀tail`;
    expect(clipped(value)).toBe(`${'x'.repeat(LOGGED_CHARS - 1)}…[6 more characters]`);
  });
});
