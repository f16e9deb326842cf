/**
 * The pages served on the chat port: the chat page at `/` and, when INSPECT_PAGE is on, the
 * lifecycle page at `/inspect` with its feed at `/inspect/events`.
 *
 * Files come from a fixed list (no path from a request ever reaches the file system): HTML
 * and CSS from `web/`, scripts from `dist/web/`, where `npm run build` bundles them.
 * Who may open /inspect and its feed is inspect-access.ts's to say.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectionMachine } from '../machines/connection.machine.js';
import { sessionMachine } from '../machines/session.machine.js';
import { addressKey, clientAddress, TrustedProxies } from './client-address.js';
import { inspectAccess } from './inspect-access.js';
import type { LiveView } from './live-view.js';
import { renderStateChart } from './statechart.js';

export interface PagesOptions {
  /** The /inspect feed, or null when the page is off. */
  live: LiveView | null;
  /** Asked for by /inspect when set. */
  inspectToken: string | null;
  /** HOST: besides IP addresses and localhost, the name /inspect answers to without a token. */
  host: string;
  /** TRUST_PROXY: whose X-Forwarded-For names the client, for /inspect's per-address throttle and share. */
  trustProxy: string[] | null;
}

/** Answers the request if it is for a page or asset, and says whether it did. */
export type PageHandler = (req: IncomingMessage, res: ServerResponse, path: string) => boolean;

/** The project root, found from this file whether it runs as src/*.ts or dist/src/*.js. */
const ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
const WEB = join(ROOT, 'web');
const BUILT = join(ROOT, 'dist', 'web');

const TYPES = {
  html: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
} as const;

/** Path -> file and type. Nothing else is served. */
const ASSETS: Record<string, { file: string; type: keyof typeof TYPES }> = {
  '/assets/base.css': { file: join(WEB, 'base.css'), type: 'css' },
  '/assets/chat.css': { file: join(WEB, 'chat.css'), type: 'css' },
  '/assets/chat.js': { file: join(BUILT, 'chat.js'), type: 'js' },
  '/assets/inspect.css': { file: join(WEB, 'inspect.css'), type: 'css' },
  '/assets/inspect.js': { file: join(BUILT, 'inspect.js'), type: 'js' },
};

/** Pages load only their own files and talk only to their own origin. */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
};

/** The page's charts, drawn once: where each goes in web/inspect.html, and its machine. */
const CHARTS = [
  { slot: '<!-- connection statechart -->', machine: connectionMachine },
  { slot: '<!-- session statechart -->', machine: sessionMachine },
];

let charts: Array<{ slot: string; svg: string }> | null = null;

export function createPages(options: PagesOptions): PageHandler {
  const { live } = options;
  const trusted = new TrustedProxies(options.trustProxy);
  const addressOf = (req: IncomingMessage) =>
    addressKey(clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trusted));
  const mayInspect = inspectAccess({ token: options.inspectToken, host: options.host, addressOf });

  return (req, res, path) => {
    const isPage =
      path === '/' || path in ASSETS || (live !== null && (path === '/inspect' || path === '/inspect/events'));
    if (!isPage) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('Method Not Allowed');
      return true;
    }
    if (path === '/') void sendFile(res, join(WEB, 'index.html'), 'html');
    else if (path in ASSETS) void sendFile(res, ASSETS[path]!.file, ASSETS[path]!.type);
    else if (!mayInspect(req, res)) return true;
    else if (path === '/inspect') void sendInspectPage(res);
    else if (!live!.addViewer(req, res, addressOf(req)))
      res.writeHead(503, { 'content-type': 'text/plain' }).end('Too many viewers');
    return true;
  };
}

async function sendInspectPage(res: ServerResponse): Promise<void> {
  charts ??= CHARTS.map(({ slot, machine }) => ({ slot, svg: renderStateChart(machine) }));
  const page = await readPage(join(WEB, 'inspect.html'), res);
  if (page === null) return;
  // A function as the replacement: `$` in a chart's text must not read as a pattern.
  const filled = charts.reduce((html, { slot, svg }) => html.replace(slot, () => svg), page);
  send(res, 'html', filled);
}

async function sendFile(res: ServerResponse, file: string, type: keyof typeof TYPES): Promise<void> {
  const body = await readPage(file, res);
  if (body !== null) send(res, type, body);
}

/** The file's text; null once a 500 has been sent (a script not built yet, say). */
async function readPage(file: string, res: ServerResponse): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`${file.slice(ROOT.length + 1)} is missing: run npm run build\n`);
    return null;
  }
}

function send(res: ServerResponse, type: keyof typeof TYPES, body: string): void {
  res.writeHead(200, { ...PAGE_HEADERS, 'content-type': TYPES[type], 'content-length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return from;
  }
}
