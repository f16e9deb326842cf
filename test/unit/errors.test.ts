/**
 * Error and close codes (SPEC §2-5): the wire contract's fixed vocabulary.
 */
import { describe, expect, it } from 'vitest';
import { closeCodes, closeReasons, ConfigError, errors } from '../../src/errors.js';

describe('errors', () => {
  it('holds exactly the codes the protocol uses', () => {
    expect(Object.keys(errors).sort()).toEqual([
      'bad_frame',
      'invalid_message',
      'invalid_name',
      'name_lost',
      'name_taken',
      'not_registered',
      'rate_limited',
      'server_unavailable',
    ]);
  });

  it.each(Object.entries(errors))('%s has a non-blank one-line text', (_, { text }) => {
    expect(text.trim()).not.toBe('');
    expect(text).not.toContain('\n');
  });

  it("keeps the seed's exact text for name_taken", () => {
    expect(errors.name_taken.text).toBe('Username already taken');
  });

  it('spells every code in snake_case', () => {
    for (const code of Object.keys(errors)) expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
  });
});

describe('closeCodes', () => {
  it('match SPEC §5 (1001 shutdown, 1008 policy, 1009 too big, 1011 internal, 1013 full), plus 1002 (ws) and 4001 name lost', () => {
    expect(closeCodes).toEqual({
      shutdown: 1001,
      protocolError: 1002,
      policy: 1008,
      tooBig: 1009,
      internal: 1011,
      full: 1013,
      nameLost: 4001,
    });
  });

  it('close reasons fit in a close frame (123 bytes)', () => {
    for (const reason of Object.values(closeReasons)) {
      expect(reason).not.toBe('');
      expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
    }
  });
});

describe('ConfigError', () => {
  it('is an Error named ConfigError', () => {
    const err = new ConfigError('invalid PORT');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ConfigError');
    expect(String(err)).toBe('ConfigError: invalid PORT');
  });
});
