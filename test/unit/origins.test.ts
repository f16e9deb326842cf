/**
 * SPEC §5's origin rule as a pure function: a page's own origin (its host is the request's
 * Host), clients without Origin, the ALLOWED_ORIGINS added, or any with `*`.
 */
import { describe, expect, it } from 'vitest';
import { isSameHost, originAllowed } from '../../src/origins.js';

describe('isSameHost', () => {
  it.each([
    ['http://chat.example', 'chat.example'],
    ['https://chat.example', 'chat.example'],
    ['https://chat.example', 'chat.example:443'],
    ['http://chat.example', 'chat.example:80'],
    ['http://chat.example', 'Chat.Example'],
    ['http://127.0.0.1:8080', '127.0.0.1:8080'],
    ['http://[::1]:8080', '[::1]:8080'],
  ])('%s is the origin of Host %s', (origin, host) => {
    expect(isSameHost(origin, host)).toBe(true);
  });

  it.each([
    ['http://chat.example', 'chat.example:8080'],
    ['https://chat.example', 'chat.example:80'],
    ['http://chat.example:8080', 'chat.example'],
    ['http://evil.example', 'chat.example'],
    ['http://chat.example.evil.example', 'chat.example'],
    ['null', 'chat.example'],
    ['ws://chat.example', 'chat.example'],
    ['file://chat.example', 'chat.example'],
    ['http://chat.example/', 'chat.example'], // not how a browser writes an origin
    ['http://user@chat.example', 'chat.example'],
    ['http://chat.example', 'evil.example@chat.example'],
    ['http://chat.example', 'chat.example/path'],
    ['http://chat.example', ''],
    ['http://chat.example', undefined],
  ])('%s is not the origin of Host %s', (origin, host) => {
    expect(isSameHost(origin, host)).toBe(false);
  });
});

describe('originAllowed', () => {
  it('lets in a client without Origin whatever the list', () => {
    for (const allowed of [null, [], ['https://a.example'], '*'] as const) {
      expect(originAllowed(undefined, 'chat.example', allowed)).toBe(true);
      expect(originAllowed('', 'chat.example', allowed)).toBe(true);
    }
  });

  it('takes its own origin, the listed ones, and with * any', () => {
    expect(originAllowed('https://chat.example', 'chat.example', null)).toBe(true);
    expect(originAllowed('https://evil.example', 'chat.example', null)).toBe(false);
    expect(originAllowed('https://a.example', 'chat.example', ['https://a.example'])).toBe(true);
    expect(originAllowed('https://chat.example', 'chat.example', ['https://a.example'])).toBe(true);
    expect(originAllowed('https://evil.example', 'chat.example', ['https://a.example'])).toBe(false);
    expect(originAllowed('https://evil.example', 'chat.example', '*')).toBe(true);
    expect(originAllowed('null', 'chat.example', '*')).toBe(true);
  });
});
