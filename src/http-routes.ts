/**
 * The plain HTTP answers on the chat port: every request that is not a WebSocket upgrade
 * (those go to admission.ts).
 *
 *   /healthz  200 while the process is alive
 *   /readyz   200 while clients are taken; 503 with the reason otherwise
 *   /metrics  the Prometheus text exposition
 *   pages     /, /assets/…, /inspect and its feed (pages.ts)
 *   else      404
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pathOf } from './admission.js';
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
    if (pages(req, res, path)) return;
    json(res, 404, { error: 'not found' });
  };
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
