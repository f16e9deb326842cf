/**
 * Who may open /inspect and its feed, /inspect/events.
 *
 *   a page on another site (Origin) ─────────────────────────────────▶ 403
 *   no INSPECT_TOKEN: not addressed directly (src/direct-host.ts) ───▶ 403
 *   INSPECT_TOKEN:    this address guessed wrong too often ──────────▶ 429, Retry-After
 *                     ?token=<right>  ─▶ 303 to /inspect, setting the cookie
 *                     Bearer <right>, or the cookie ─▶ served
 *                     a wrong token ─▶ 401, counted as a guess; no credentials ─▶ 401
 *
 * The cookie never holds the token: it holds an HMAC of it under a key made when the process
 * starts, so a leaked cookie does not give the token away and stops working when the process
 * does. It is HttpOnly, SameSite=Strict, limited to /inspect, and Secure when the request
 * came over https.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isDirectRequest, type DirectHost } from './direct-host.js';
import { GuessThrottle } from './guess-throttle.js';
import { isSameHost } from './origins.js';

const COOKIE = 'chat_inspect';

export interface InspectAccessOptions {
  /** INSPECT_TOKEN, or null when the page asks for none. */
  token: string | null;
  /** HOST: besides IP addresses and localhost, the name the page answers to without a token. */
  host: string;
  /** The client address a request comes from (behind a trusted proxy, the one it forwards for). */
  addressOf: (req: IncomingMessage) => string;
}

/** Answers the request itself (403, 401, 429, 303) and returns false, or returns true: serve it. */
export type InspectAccess = (req: IncomingMessage, res: ServerResponse) => boolean;

export function inspectAccess({ token, host, addressOf }: InspectAccessOptions): InspectAccess {
  // Any port: a proxy in front may have mapped it.
  const direct: DirectHost = { names: [host], port: null };
  if (token === null)
    return (req, res) => {
      if (isDirectRequest(req.headers, direct)) return true;
      return refuse(
        res,
        403,
        'Open this page at an IP address, localhost or HOST, from its own origin (or set INSPECT_TOKEN)',
      );
    };

  const cookie = createHmac('sha256', randomBytes(32)).update(token).digest('base64url');
  const guesses = new GuessThrottle();
  return (req, res) => {
    // A page elsewhere has neither the token nor the cookie, which its browser keeps for the
    // server's own name; this keeps it from even guessing through its visitors.
    if (req.headers.origin !== undefined && !isSameHost(req.headers.origin, req.headers.host))
      return refuse(res, 403, 'This page answers only its own origin');
    const presented = cookieValue(req.headers.cookie, COOKIE);
    if (presented !== null && sameSecret(presented, cookie)) return true;

    const offered = new URL(req.url ?? '/', 'http://localhost').searchParams.get('token');
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const guess = offered ?? bearer;
    if (guess === undefined) return refuse(res, 401, 'This page needs its token: open /inspect?token=<INSPECT_TOKEN>');
    const address = addressOf(req);
    const wait = guesses.waitFor(address);
    if (wait > 0) {
      res.writeHead(429, { ...PLAIN, 'retry-after': String(Math.ceil(wait / 1000)) });
      res.end('Too many wrong tokens; try again later\n');
      return false;
    }
    if (!sameSecret(guess, token)) {
      guesses.failed(address);
      return refuse(res, 401, 'Wrong token: open /inspect?token=<INSPECT_TOKEN>');
    }
    if (offered === null) return true; // the bearer: nothing to swap
    // The token leaves the address bar, and the feed's requests carry the cookie unseen.
    const secure = cameOverHttps(req) ? '; Secure' : '';
    res.writeHead(303, {
      location: '/inspect',
      'set-cookie': `${COOKIE}=${cookie}; HttpOnly; SameSite=Strict; Path=/inspect${secure}`,
      'cache-control': 'no-store',
    });
    res.end();
    return false;
  };
}

const PLAIN = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' };

function refuse(res: ServerResponse, status: number, text: string): false {
  res.writeHead(status, PLAIN);
  res.end(`${text}\n`);
  return false;
}

/**
 * Whether the browser reached us over https: our own TLS, or a proxy's that says so in
 * `X-Forwarded-Proto` or `Forwarded`. Believed from anyone, as it decides only whether the
 * cookie is Secure: a client that lies gets a cookie its browser will not send back over
 * http, and harms nobody but itself.
 */
export function cameOverHttps(req: IncomingMessage): boolean {
  if ((req.socket as Partial<TLSSocket>).encrypted === true) return true;
  const forwarded = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim().toLowerCase();
  if (first === 'https') return true;
  return /(?:^|[;,\s])proto="?https"?(?:$|[;,\s])/i.test(req.headers.forwarded ?? '');
}

/** Compares in constant time, whatever the lengths. */
function sameSecret(offered: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(offered), digest(expected));
}

function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}
