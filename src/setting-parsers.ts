/**
 * The parsers of setting values: each turns the raw text of a flag or environment variable
 * into a typed value, or throws an Error whose message says what was expected.
 */
import { parseProxyList } from './client-address.js';

/** TRUST_PROXY: addresses and networks, each in one normal form (src/client-address.ts). */
export const proxyList = parseProxyList;
export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): number => {
    if (!/^\d+$/.test(raw.trim())) throw new Error(`expected a whole number from ${min} to ${max}`);
    const value = Number(raw.trim());
    if (value < min || value > max) throw new Error(`expected a whole number from ${min} to ${max}`);
    return value;
  };
}

/**
 * The longest delay a Node timer honours: a longer one fires after 1 ms instead, which
 * would drop every client at its first heartbeat or close it before it could register.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A time in ms that the server waits for with a timer. */
export function duration(min: number) {
  return integer(min, MAX_TIMER_MS);
}

export function oneOf<T extends string>(choices: readonly T[]) {
  return (raw: string): T => {
    const value = raw.trim().toLowerCase() as T;
    if (!choices.includes(value)) throw new Error(`expected one of ${choices.join(', ')}`);
    return value;
  };
}

export function boolean(raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(value)) return false;
  throw new Error('expected 1, true, yes, on, 0, false, no or off');
}

export function text(raw: string): string {
  if (raw.trim() === '') throw new Error('expected a non-empty value');
  return raw.trim();
}

/**
 * A host name or address. None holds white space, and refusing it here keeps a line break
 * out of the listen error that would otherwise print the value raw.
 */
export function host(raw: string): string {
  const value = text(raw);
  if (/[\s\p{Cc}]/u.test(value)) throw new Error('expected a host name or IP address, without spaces');
  return value;
}

/**
 * Origins allowed beside the server's own, each written the way browsers send `Origin`
 * (lower-case host, no default port, no trailing slash), since the check compares them
 * exactly; or `*` alone, for any origin. An empty list is refused rather than read as
 * "none added": someone who set it meant something.
 */
export function originList(raw: string): string[] | '*' {
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0)
    throw new Error(
      'expected at least one origin such as https://chat.example.com, or * for any (unset: only its own)',
    );
  if (entries.includes('*')) {
    if (entries.length > 1) throw new Error('* allows any origin: give it alone, not in a list');
    return '*';
  }
  return entries.map(origin);
}

function origin(entry: string): string {
  // Browsers send one origin, never a pattern: a wildcard would match nothing, silently.
  if (entry.includes('*'))
    throw new Error(`${JSON.stringify(entry)}: wildcards are not supported; list each origin, or give * alone for any`);
  const notAnOrigin = new Error(`${JSON.stringify(entry)} is not an origin such as https://chat.example.com`);
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    throw notAnOrigin;
  }
  const hasMore =
    url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '' || /[?#]$/.test(entry);
  // http(s) have an origin of their own; apps and extensions send other schemes
  // (capacitor://localhost, chrome-extension://<id>), whose origin URL calls "null".
  const special = url.origin !== 'null';
  if (hasMore || url.host === '' || !['', '/'].includes(url.pathname)) throw notAnOrigin;
  return special ? url.origin : `${url.protocol}//${url.host}`.toLowerCase();
}

export function redisUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new Error('expected a URL such as redis://127.0.0.1:6379');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error('expected a redis:// or rediss:// URL');
  return raw.trim();
}
