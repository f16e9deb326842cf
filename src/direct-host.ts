/**
 * Whether a request was addressed to this server by a name that no other site can own:
 * the defence against DNS rebinding for the private pages (the inspector relay, and
 * /inspect without a token).
 *
 * A page on evil.example can point its own name at 127.0.0.1; the browser then takes the
 * server for evil.example, same-origin with the page, and lets the page read it. Only the
 * Host header tells: it says evil.example. So a private page answers only requests whose
 * Host is an IP address (a browser sends one only when its user typed it), `localhost`
 * (browsers resolve it to loopback themselves), or a name the operator configured.
 */
import { isIP } from 'node:net';
import { isSameHost } from './origins.js';

export interface DirectHost {
  /** Names besides IP addresses and `localhost` that the operator gave the server (INSPECT_HOST, say). */
  names: readonly string[];
  /** The port the Host must name (a missing port is 80); null: any. */
  port: number | null;
}

/** Whether `host` (a Host header) names this server directly: see the file comment. */
export function isDirectHost(host: string | undefined, direct: DirectHost): boolean {
  const parsed = parseHost(host);
  if (parsed === null) return false;
  if (direct.port !== null && parsed.port !== direct.port) return false;
  const name = parsed.name;
  return (
    isIP(name.replace(/^\[(.*)\]$/, '$1')) !== 0 ||
    name === 'localhost' ||
    direct.names.some((known) => known.toLowerCase() === name)
  );
}

/**
 * Whether a request may read a private page: addressed directly (isDirectHost), and, if it
 * comes from a page (`Origin`), from a page on that same host.
 */
export function isDirectRequest(headers: { host?: string; origin?: string }, direct: DirectHost): boolean {
  if (!isDirectHost(headers.host, direct)) return false;
  return headers.origin === undefined || isSameHost(headers.origin, headers.host);
}

/** A Host header's name (lower case, an IPv6 address in brackets) and port; null when it is not a host. */
function parseHost(host: string | undefined): { name: string; port: number } | null {
  if (host === undefined || !/^[A-Za-z0-9._:[\]-]{1,255}$/.test(host)) return null;
  try {
    const url = new URL(`http://${host}`);
    if (url.pathname !== '/' || url.username !== '') return null;
    return { name: url.hostname, port: url.port === '' ? 80 : Number(url.port) };
  } catch {
    return null;
  }
}
