/**
 * The client address behind per-address limits (SPEC §5): the socket's peer, or
 * X-Forwarded-For's only from a trusted proxy, read from the right.
 */
import { describe, expect, it } from 'vitest';
import { addressKey, clientAddress, parseProxyList, TrustedProxies } from '../../src/client-address.js';

const trusting = (raw: string) => new TrustedProxies(parseProxyList(raw));
const none = new TrustedProxies(null);

describe('parseProxyList', () => {
  it.each([
    ['10.0.0.1', ['10.0.0.1/32']],
    ['10.1.2.3/8', ['10.0.0.0/8']],
    [' 127.0.0.1 , ::1 ', ['127.0.0.1/32', '::1/128']],
    ['::ffff:10.0.0.1', ['10.0.0.1/32']],
    ['::ffff:10.0.0.0/104', ['10.0.0.0/8']],
    ['2001:DB8::/32', ['2001:db8::/32']],
    ['fe80::1%eth0', ['fe80::1/128']],
    ['0.0.0.0/0', ['0.0.0.0/0']],
  ])('reads %j as %j', (raw, expected) => {
    expect(parseProxyList(raw)).toEqual(expected);
  });

  it.each([
    '',
    ' , ',
    'proxy.example.com',
    '10.0.0.256',
    '10.0.0',
    '010.0.0.1',
    '10.0.0.0/33',
    '::1/129',
    '1::2::3',
    'a:b:c:d:e:f:0:1:2',
    '10.0.0.0/x',
  ])('refuses %j, naming it', (raw) => {
    expect(() => parseProxyList(raw)).toThrow(/expected at least one|is not an IP address/);
  });
});

describe('clientAddress', () => {
  it('is the peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(clientAddress('127.0.0.2', '203.0.113.9', none)).toBe('127.0.0.2');
  });

  it('ignores a spoofed X-Forwarded-For from a peer that is not a trusted proxy', () => {
    expect(clientAddress('192.0.2.50', '203.0.113.9', trusting('10.0.0.0/8'))).toBe('192.0.2.50');
  });

  it('takes the entry a trusted proxy appended', () => {
    expect(clientAddress('10.0.0.3', '198.51.100.7', trusting('10.0.0.0/8'))).toBe('198.51.100.7');
  });

  it('walks from the right past trusted proxies, never trusting what the client wrote further left', () => {
    const proxies = trusting('10.0.0.0/8');
    expect(clientAddress('10.0.0.3', 'spoofed, 203.0.113.9, 198.51.100.7, 10.0.0.2', proxies)).toBe('198.51.100.7');
    expect(clientAddress('10.0.0.3', ['203.0.113.9', '198.51.100.7, 10.0.0.2'], proxies)).toBe('198.51.100.7');
  });

  it('stops at an entry that is no address: the last trusted hop is the client as far as we know', () => {
    expect(clientAddress('10.0.0.3', '198.51.100.7, unknown', trusting('10.0.0.0/8'))).toBe('10.0.0.3');
    expect(clientAddress('10.0.0.3', 'unknown, 10.0.0.9', trusting('10.0.0.0/8'))).toBe('10.0.0.9');
  });

  it('takes the leftmost when every hop is a trusted proxy', () => {
    expect(clientAddress('10.0.0.3', '10.0.0.1, 10.0.0.2', trusting('10.0.0.0/8'))).toBe('10.0.0.1');
  });

  it('is the peer when a trusted proxy sends no header', () => {
    expect(clientAddress('10.0.0.3', undefined, trusting('10.0.0.0/8'))).toBe('10.0.0.3');
  });

  it('reads entries with ports and brackets', () => {
    const proxies = trusting('127.0.0.1');
    expect(clientAddress('127.0.0.1', '198.51.100.7:4711', proxies)).toBe('198.51.100.7');
    expect(clientAddress('127.0.0.1', '[2001:db8::1]:4711', proxies)).toBe('2001:db8::1');
    expect(clientAddress('127.0.0.1', '[2001:db8::1]', proxies)).toBe('2001:db8::1');
  });

  it('normalises IPv4-mapped IPv6, on the socket and in the list', () => {
    expect(clientAddress('::ffff:127.0.0.2', undefined, none)).toBe('127.0.0.2');
    expect(clientAddress('::ffff:10.0.0.3', '198.51.100.7', trusting('10.0.0.3'))).toBe('198.51.100.7');
    expect(clientAddress('10.0.0.3', '198.51.100.7', trusting('::ffff:10.0.0.3'))).toBe('198.51.100.7');
  });

  it('writes IPv6 in its short form', () => {
    expect(clientAddress('2001:0DB8:0000:0000:0001:0000:0000:0001', undefined, none)).toBe('2001:db8::1:0:0:1');
    expect(clientAddress('::1', undefined, none)).toBe('::1');
    expect(clientAddress('1:2:3:4:5:6:7:8', undefined, none)).toBe('1:2:3:4:5:6:7:8');
  });

  it('keeps a peer it cannot read as it is', () => {
    expect(clientAddress(undefined, '198.51.100.7', trusting('0.0.0.0/0'))).toBe('unknown');
  });
});

describe('addressKey', () => {
  it('is an IPv4 address itself', () => {
    expect(addressKey('192.0.2.1')).toBe('192.0.2.1');
  });

  it('groups IPv6 by its /64: one host cannot dodge a limit by changing its interface id', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:bbbb::2')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
  });
});
