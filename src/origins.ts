/**
 * Which browser pages may open a WebSocket to the chat (SPEC §5): the server's own origin
 * (the one whose host is the Host the request was sent to), the origins ALLOWED_ORIGINS
 * adds, or any with `*`. A client that sends no `Origin` is not a browser page and is let in.
 *
 * A browser always sends `Origin` with a WebSocket handshake, and a page cannot forge it:
 * the check keeps pages on other sites from joining, reading and posting through their
 * visitors' browsers, which may reach a chat on an intranet or on localhost that the
 * sites themselves cannot.
 */

/** ALLOWED_ORIGINS as the settings read it: origins added to the server's own, `*` for any, null for none. */
export type AllowedOrigins = readonly string[] | '*' | null;

/** A Host header as a browser sends it: a name or address, maybe a port; anything else is no host at all. */
const HOST_HEADER = /^[A-Za-z0-9._:[\]-]{1,255}$/;

/**
 * Whether a handshake with this `Origin` (undefined or '' when none was sent) to this
 * `Host` may open a WebSocket.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: AllowedOrigins): boolean {
  if (origin === undefined || origin === '') return true;
  if (allowed === '*') return true;
  if (isSameHost(origin, host)) return true;
  return allowed !== null && allowed.includes(origin);
}

/**
 * Whether `origin` is an http or https origin whose host (and port) is `host`, the
 * request's Host header. A default port is the same as none: `https://chat.example` and
 * Host `chat.example:443` match. `null` (a sandboxed page, a file) never matches.
 */
export function isSameHost(origin: string, host: string | undefined): boolean {
  const page = parseOrigin(origin);
  const target = host === undefined ? null : hostOf(host, page?.protocol ?? 'http:');
  return page !== null && target !== null && page.host === target;
}

/** An http(s) origin exactly as browsers write one (no path, no user), parsed; null otherwise. */
function parseOrigin(origin: string): URL | null {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  return url.origin === origin.toLowerCase() ? url : null;
}

/** A Host header in the form URL gives a host under `protocol` (lower case, default port dropped); null when it is not one. */
function hostOf(host: string, protocol: string): string | null {
  if (!HOST_HEADER.test(host)) return null;
  try {
    const url = new URL(`${protocol}//${host}`);
    return url.pathname === '/' && url.username === '' ? url.host : null;
  } catch {
    return null;
  }
}
