/**
 * The Host rule of the private pages (src/direct-host.ts): an IP address, localhost or a
 * configured name, with the port asked for; never a name a DNS-rebinding page could own.
 */
import { describe, expect, it } from 'vitest';
import { isDirectHost, isDirectRequest } from '../../src/direct-host.js';

const relay = { names: ['inspect.internal'], port: 8081 };

describe('isDirectHost', () => {
  it.each([
    '127.0.0.1:8081',
    'localhost:8081',
    'LOCALHOST:8081',
    '[::1]:8081',
    '10.0.0.5:8081',
    'inspect.internal:8081',
  ])('takes %s', (host) => expect(isDirectHost(host, relay)).toBe(true));

  it.each([
    'evil.example:8081',
    'localhost.evil.example:8081',
    'inspect.internal.evil.example:8081',
    '127.0.0.1:8082',
    '127.0.0.1',
    'evil.example@127.0.0.1:8081',
    '127.0.0.1:8081/x',
    '',
    undefined,
  ])('refuses %s', (host) => expect(isDirectHost(host, relay)).toBe(false));

  it('reads a missing port as 80, and any port when none is asked for', () => {
    expect(isDirectHost('127.0.0.1', { names: [], port: 80 })).toBe(true);
    expect(isDirectHost('127.0.0.1:9', { names: [], port: null })).toBe(true);
    expect(isDirectHost('evil.example:9', { names: [], port: null })).toBe(false);
  });
});

describe('isDirectRequest', () => {
  it('takes no Origin or its own, and refuses another', () => {
    expect(isDirectRequest({ host: '127.0.0.1:8081' }, relay)).toBe(true);
    expect(isDirectRequest({ host: '127.0.0.1:8081', origin: 'http://127.0.0.1:8081' }, relay)).toBe(true);
    expect(isDirectRequest({ host: '127.0.0.1:8081', origin: 'http://evil.example' }, relay)).toBe(false);
    expect(isDirectRequest({ host: '127.0.0.1:8081', origin: 'null' }, relay)).toBe(false);
  });
});
