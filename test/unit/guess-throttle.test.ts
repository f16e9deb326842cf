/** Wrong guesses per address, in bounded memory (src/guess-throttle.ts). */
import { describe, expect, it } from 'vitest';
import { GUESS_WINDOW_MS, GUESSES_PER_WINDOW, GuessThrottle } from '../../src/guess-throttle.js';

describe('GuessThrottle', () => {
  it(`lets an address guess wrong ${GUESSES_PER_WINDOW} times a window, then makes it wait out the window`, () => {
    let now = 0;
    const throttle = new GuessThrottle(() => now);
    for (let i = 0; i < GUESSES_PER_WINDOW; i++) {
      expect(throttle.waitFor('a')).toBe(0);
      throttle.failed('a');
    }
    expect(throttle.waitFor('a')).toBe(GUESS_WINDOW_MS);
    expect(throttle.waitFor('b')).toBe(0);
    now = GUESS_WINDOW_MS - 1;
    expect(throttle.waitFor('a')).toBe(1);
    now = GUESS_WINDOW_MS;
    expect(throttle.waitFor('a')).toBe(0);
    expect(throttle.size).toBe(0); // forgotten once its window is over
  });

  it('remembers at most 10,000 addresses, forgetting the oldest first', () => {
    const throttle = new GuessThrottle(() => 0);
    for (let i = 0; i < 10_010; i++) throttle.failed(`10.0.${i >> 8}.${i & 255}`);
    expect(throttle.size).toBe(10_000);
  });
});
