/**
 * The plain HTTP answers on the chat port: every request that is not a WebSocket upgrade
 * (those go to admission.ts).
 *
 *   /healthz  200 while the process is alive
 *   /readyz   200 while clients are taken; 503 with the reason otherwise
 *   /metrics  the Prometheus text exposition
 *   /ws       426: the endpoint, asked for without an upgrade (say, pasted into a browser)
 *   pages     /, /assets/…, /inspect and its feed (pages.ts)
 *   else      404
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pathOf, WEBSOCKET_PATH } from './admission.js';
import type { Metrics } from './metrics.js';
import type { PageHandler } from './pages.js';

export interface RoutesOptions {
  /** Why clients are not taken now ('stopping', 'redis unavailable'), or null when they are. */
  notReadyBecause: () => string | null;
  metrics: Pick<Metrics, 'render'>;
  pages: PageHandler;
}

/** The HTTP server's request listener. */
export function createRoutes({ notReadyBecause, metrics, pages }: RoutesOptions) {
  return function answerHttp(req: IncomingMessage, res: ServerResponse): void {
    const path = pathOf(req.url);
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const reason = notReadyBecause();
      return reason === null ? json(res, 200, { status: 'ready' }) : json(res, 503, { status: reason });
    }
    if (path === '/metrics') return void sendMetrics(res, metrics);
    if (path === WEBSOCKET_PATH) return upgradeRequired(req, res);
    if (pages(req, res, path)) return;
    json(res, 404, { error: 'not found' });
  };
}

/**
 * The endpoint without an upgrade: 426 names the protocol to switch to (RFC 9110 §15.5.22),
 * and the text tells a person who opened it in a browser what to do instead.
 */
function upgradeRequired(req: IncomingMessage, res: ServerResponse): void {
  const text = `This is a WebSocket endpoint: connect with a WebSocket client to ws://${hostOf(req)}${WEBSOCKET_PATH}\n`;
  res.writeHead(426, {
    upgrade: 'websocket',
    connection: 'Upgrade',
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** The Host the client asked for, when it looks like one; a placeholder otherwise (never echo odd bytes). */
function hostOf(req: IncomingMessage): string {
  const host = req.headers.host ?? '';
  return /^[A-Za-z0-9.\-:[\]]{1,255}$/.test(host) ? host : 'HOST:PORT';
}

async function sendMetrics(res: ServerResponse, metrics: RoutesOptions['metrics']): Promise<void> {
  try {
    const { contentType, body } = await metrics.render();
    res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  } catch {
    json(res, 500, { error: 'metrics unavailable' });
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}
