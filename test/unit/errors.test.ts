/**
 * Error and close codes (SPEC §2-5, §8): the wire contract's fixed vocabulary, and which
 * ends of a connection keep its session.
 */
import { describe, expect, it } from 'vitest';
import {
  closeCodes,
  closeReasons,
  ConfigError,
  errors,
  isCleanClose,
  keepsSession,
  type LeaveCause,
} from '../../src/errors.js';

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
      'session_expired',
      'too_many_names',
      'too_many_registrations',
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
  it('match SPEC §5 (1001 shutdown, 1008 policy, 1009 too big, 1011 internal, 1013 full), plus 1002 (ws), 4001 name lost and 4002 taken over (§8)', () => {
    expect(closeCodes).toEqual({
      shutdown: 1001,
      protocolError: 1002,
      policy: 1008,
      tooBig: 1009,
      internal: 1011,
      full: 1013,
      nameLost: 4001,
      takenOver: 4002,
    });
  });

  it('close reasons fit in a close frame (123 bytes)', () => {
    for (const reason of Object.values(closeReasons)) {
      expect(reason).not.toBe('');
      expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
    }
  });
});

describe('sessions (SPEC §8)', () => {
  it("end at the client's own clean close, 1000, 1001 or no code (1005), and are kept by any other close code", () => {
    expect(isCleanClose(1000)).toBe(true);
    expect(isCleanClose(1001)).toBe(true);
    // A close frame without a code: what a browser's close() sends.
    expect(isCleanClose(1005)).toBe(true);
    for (const code of [1002, 1006, 1008, 1009, 1011, 3000, 4000, 4002])
      expect(isCleanClose(code), String(code)).toBe(false);
  });

  it('are kept when the connection was lost, and end when the client closed, broke a rule or lost its name', () => {
    const keeps: Record<LeaveCause, boolean> = {
      dropped: true,
      heartbeat: true,
      slow: true,
      shutdown: true,
      error: true,
      close: false,
      policy: false,
      lost: false,
      // Never asked in practice: the session has moved to the new connection before the old one ends.
      takenOver: false,
    };
    for (const [cause, kept] of Object.entries(keeps)) expect(keepsSession(cause as LeaveCause), cause).toBe(kept);
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
