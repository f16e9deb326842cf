/**
 * Per-address counting (SPEC §5), without sockets: the table stays bounded, each limit
 * refuses at its number and frees with time or a close, and 0 turns a limit off.
 */
import { describe, expect, it } from 'vitest';
import { AddressBook } from '../../src/address-book.js';
import {
  AddressLimits,
  LOG_PERIOD_MS,
  MAX_IDLE_ADDRESSES,
  type AddressLimitSettings,
} from '../../src/address-limits.js';
import { AddressNames } from '../../src/address-names.js';
import { addressKey } from '../../src/client-address.js';

const off: AddressLimitSettings = {
  maxConnections: 0,
  maxUnregistered: 0,
  connectBurst: 0,
  connectsPerSec: 0,
  rateBurst: 0,
  ratePerSec: 0,
};

describe('AddressBook', () => {
  const counter = (maxIdle = 100) =>
    new AddressBook<{ n: number; until: number }>({
      fresh: () => ({ n: 0, until: 0 }),
      idleUntil: (entry) => (entry.n > 0 ? null : entry.until),
      maxIdle,
    });

  it('keeps a busy entry, and an idle one until its time', () => {
    const book = counter();
    book.get('a', 0).n = 1;
    book.settle('a', 0);
    expect(book.size).toBe(1);
    const a = book.get('a', 0);
    a.n = 0;
    a.until = 1_000;
    book.settle('a', 0);
    book.get('b', 500);
    expect(book.find('a')).toBe(a);
    book.get('b', 1_000);
    expect(book.find('a')).toBeUndefined();
  });

  it('forgets the oldest idle entry early past maxIdle, so many addresses cannot grow it', () => {
    const book = counter(10);
    for (let i = 0; i < 1_000; i++) {
      const entry = book.get(`k${i}`, 0);
      entry.until = 1e9;
      book.settle(`k${i}`, 0);
    }
    expect(book.size).toBeLessThanOrEqual(11);
  });

  it('never forgets a busy entry, however many', () => {
    const book = counter(1);
    for (let i = 0; i < 100; i++) {
      book.get(`k${i}`, 0).n = 1;
      book.settle(`k${i}`, 0);
    }
    expect(book.size).toBe(100);
  });

  it('an entry taken again is busy again', () => {
    const book = counter();
    const a = book.get('a', 0);
    a.until = 10;
    book.settle('a', 0);
    book.get('a', 5).n = 1;
    book.get('b', 20);
    expect(book.find('a')).toBe(a);
  });
});

describe('AddressLimits', () => {
  it('counts an IPv6 /64 for its /48 too: the /48 holds IPV6_SITE_SHARES times the limits for all its /64s', () => {
    const limits = new AddressLimits({ ...off, maxConnections: 2 });
    const key = (address: string) => addressKey(address);
    // Four /64s of one /48 take the /48's 2 × 4 places, two each.
    for (let net = 1; net <= 4; net++) {
      for (let i = 0; i < 2; i++) expect(limits.admit(key(`2001:db8:7:${net}::${i + 1}`), 0)).toBeNull();
    }
    // A fifth /64 of the same /48, under its own limit, is refused for its /48's.
    expect(limits.admit(key('2001:db8:7:5::1'), 0)).toBe('connections');
    // Another /48 is not held back.
    expect(limits.admit(key('2001:db8:8:1::1'), 0)).toBeNull();
    // A close frees a place in the /48.
    limits.closed(key('2001:db8:7:1::1'), false, 0);
    expect(limits.admit(key('2001:db8:7:5::1'), 0)).toBeNull();
    // IPv4 has no site: only the address's own limit applies.
    for (let i = 0; i < 2; i++) expect(limits.admit(key(`192.0.2.${i + 1}`), 0)).toBeNull();
  });

  it('caps open connections per address, and a close frees a place', () => {
    const limits = new AddressLimits({ ...off, maxConnections: 2 });
    expect(limits.admit('a', 0)).toBeNull();
    limits.registered('a', 0);
    expect(limits.admit('a', 0)).toBeNull();
    limits.registered('a', 0);
    expect(limits.admit('a', 0)).toBe('connections');
    expect(limits.admit('b', 0)).toBeNull();
    limits.closed('a', true, 0);
    expect(limits.admit('a', 0)).toBeNull();
  });

  it('caps unregistered connections; registering frees a place', () => {
    const limits = new AddressLimits({ ...off, maxUnregistered: 1 });
    expect(limits.admit('a', 0)).toBeNull();
    expect(limits.admit('a', 0)).toBe('unregistered');
    limits.registered('a', 0);
    expect(limits.admit('a', 0)).toBeNull();
    limits.closed('a', false, 0);
    expect(limits.admit('a', 0)).toBeNull();
  });

  it('limits connects per second with a token bucket', () => {
    const limits = new AddressLimits({ ...off, connectBurst: 2, connectsPerSec: 1 });
    expect(limits.admit('a', 0)).toBeNull();
    expect(limits.admit('a', 0)).toBeNull();
    expect(limits.admit('a', 0)).toBe('connects');
    expect(limits.admit('b', 0)).toBeNull();
    expect(limits.admit('a', 1_000)).toBeNull();
  });

  it('is off at 0', () => {
    const limits = new AddressLimits(off);
    for (let i = 0; i < 1_000; i++) expect(limits.admit('a', 0)).toBeNull();
  });

  it('shares one message bucket among an address’s connections', () => {
    const limits = new AddressLimits({ ...off, rateBurst: 5, ratePerSec: 1 });
    limits.admit('a', 0);
    limits.admit('a', 0);
    expect(limits.messageBucket('a', 0)).toBe(limits.messageBucket('a', 0));
    expect(limits.messageBucket('a', 0)).not.toBe(limits.messageBucket('b', 0));
  });

  it('logs an offender once per period and limit', () => {
    const limits = new AddressLimits(off);
    expect(limits.shouldLog('a', 'connects', 0)).toBe(true);
    expect(limits.shouldLog('a', 'connects', 1)).toBe(false);
    expect(limits.shouldLog('a', 'connections', 1)).toBe(true);
    expect(limits.shouldLog('a', 'connects', LOG_PERIOD_MS)).toBe(true);
  });

  it('forgets an address once it holds nothing and its buckets are full again', () => {
    const limits = new AddressLimits({ ...off, connectBurst: 10, connectsPerSec: 10 });
    limits.admit('a', 0);
    limits.closed('a', false, 0);
    expect(limits.size).toBe(1);
    limits.admit('b', 50);
    expect(limits.size).toBe(2);
    limits.admit('c', 200);
    expect(limits.size).toBe(2); // 'a' refilled its one connect by 100 ms
  });

  it('stays bounded when connects come from ever new addresses', () => {
    const limits = new AddressLimits({ ...off, connectBurst: 10, connectsPerSec: 1 });
    for (let i = 0; i < 30_000; i++) {
      limits.admit(`10.0.${i >> 8}.${i & 255}`, 0);
      limits.closed(`10.0.${i >> 8}.${i & 255}`, false, 0);
    }
    expect(limits.size).toBeLessThanOrEqual(MAX_IDLE_ADDRESSES + 1);
  });
});

describe('AddressNames', () => {
  it('caps names held; a release frees one', () => {
    const names = new AddressNames({ maxNames: 2, registrationsPerMin: 0 });
    expect(names.claim('a', 0)).toBeNull();
    expect(names.claim('a', 0)).toBeNull();
    expect(names.claim('a', 0)).toBe('names');
    expect(names.claim('b', 0)).toBeNull();
    names.release('a', 0);
    expect(names.claim('a', 0)).toBeNull();
    expect(names.held('a')).toBe(2);
  });

  it('limits registrations per minute', () => {
    const names = new AddressNames({ maxNames: 0, registrationsPerMin: 3 });
    for (let i = 0; i < 3; i++) {
      expect(names.claim('a', 0)).toBeNull();
      names.release('a', 0);
    }
    expect(names.claim('a', 0)).toBe('registrations');
    expect(names.claim('b', 0)).toBeNull();
    expect(names.claim('a', 20_000)).toBeNull();
  });

  it('gives the registration back for a claim that was never decided', () => {
    const names = new AddressNames({ maxNames: 0, registrationsPerMin: 1 });
    expect(names.claim('a', 0)).toBeNull();
    names.release('a', 0, true);
    expect(names.claim('a', 0)).toBeNull();
    names.release('a', 0);
    expect(names.claim('a', 0)).toBe('registrations');
  });

  it('a resumed session holds its name at its new address, even past the cap', () => {
    const names = new AddressNames({ maxNames: 1, registrationsPerMin: 0 });
    names.claim('b', 0);
    names.hold('b', 0);
    expect(names.held('b')).toBe(2);
    expect(names.claim('b', 0)).toBe('names');
  });

  it('forgets an address that holds nothing once its registrations are back', () => {
    const names = new AddressNames({ maxNames: 5, registrationsPerMin: 60 });
    names.claim('a', 0);
    names.release('a', 0);
    expect(names.size).toBe(1);
    names.claim('b', 1_000);
    expect(names.size).toBe(1);
  });
});
