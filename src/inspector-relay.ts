/**
 * Our relay for the Stately inspector, in place of `createInspectorServer` from
 * `@statelyai/inspect/server`: that one listens on every interface with no host option,
 * opens a browser and relays to anyone who connects. This one binds to
 * INSPECT_HOST, opens nothing, and takes records only from the server's own inspector.
 *
 *   hub + connections ─▶ WebSocket inspector ──ws /source/<key>──▶ relay ──ws /──▶ bridge page
 *                                                                   (this file)     │ postMessage
 *                                                                                   ▼
 *                                                                  Stately inspector (iframe)
 *
 * A browser that opens the relay's page gets the bridge: an iframe holding the Stately
 * inspector and a WebSocket back to the relay. A viewer that connects late is first sent
 * every live actor and its latest snapshot, so it sees the connections open at that moment.
 *
 * What it relays holds names, so the page and its WebSocket answer only a request
 * addressed to the relay directly (an IP address, localhost or INSPECT_HOST, with the
 * relay's port) and, if from a page, from that same host: a DNS-rebinding page, whose own
 * name points at the relay, gets 403 (src/direct-host.ts).
 */
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { isDirectRequest, type DirectHost } from './direct-host.js';

/** Where the bridge page loads the inspector UI from (the operator's browser needs to reach it). */
export const INSPECTOR_UI = 'https://stately.ai/inspect';

const MAX_VIEWERS = 8;
/** A viewer this far behind is dropped rather than buffered without bound. */
const MAX_VIEWER_BACKLOG = 8 * 1024 * 1024;
/** Records carry machine definitions and snapshots: generous, but bounded. */
const MAX_RECORD_BYTES = 4 * 1024 * 1024;

export interface InspectorRelay {
  /** The bridge page to open in a browser, e.g. http://127.0.0.1:8081/ */
  readonly pageUrl: string;
  /** Where the server's own inspector connects; the key in it keeps others from posing as the source. */
  readonly sourceUrl: string;
  /** Resolves once the source has connected. */
  readonly sourceConnected: Promise<void>;
  close(): Promise<void>;
}

/** The latest records of one live actor, replayed to a viewer that connects later. */
interface LiveActor {
  actor: string;
  snapshot: string | null;
}

export async function startInspectorRelay(host: string, port: number): Promise<InspectorRelay> {
  const key = randomBytes(16).toString('hex');
  const actors = new Map<string, LiveActor>();
  const viewers = new Set<WebSocket>();
  let markSourceConnected: () => void = () => {};
  const sourceConnected = new Promise<void>((resolve) => (markSourceConnected = resolve));

  // The port is the one bound, known once listening (INSPECT_PORT may be 0).
  const direct: DirectHost = { names: [host], port: null };
  const http: Server = createServer((req, res) => {
    const status = !isDirectRequest(req.headers, direct) ? 403 : req.url === '/' ? 200 : 404;
    res.writeHead(status, {
      'content-type': status === 200 ? 'text/html; charset=utf-8' : 'text/plain',
      'cache-control': 'no-store',
    });
    res.end(status === 200 ? bridgePage() : status === 403 ? 'Forbidden' : 'Not Found');
  });
  http.listen(port, host);
  await once(http, 'listening');
  const address = http.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  direct.port = boundPort;
  // Made only now: a WebSocketServer re-emits its HTTP server's errors, a failed listen included.
  const wss = new WebSocketServer({
    server: http,
    maxPayload: MAX_RECORD_BYTES,
    perMessageDeflate: false,
    verifyClient: ({ req }, accept) => accept(isDirectRequest(req.headers, direct), 403),
  });

  wss.on('connection', (socket, req) => {
    socket.on('error', () => socket.terminate());
    if (req.url === `/source/${key}`) {
      markSourceConnected();
      // ws hands over each message whole, as one Buffer (its default binaryType).
      socket.on('message', (data: RawData) => relay((data as Buffer).toString()));
      return;
    }
    if (viewers.size >= MAX_VIEWERS) return socket.close(1013, 'too many viewers');
    viewers.add(socket);
    socket.on('close', () => viewers.delete(socket));
    // Viewers only listen: whatever they send is ignored.
    for (const { actor, snapshot } of actors.values()) {
      socket.send(actor);
      if (snapshot !== null) socket.send(snapshot);
    }
  });

  function relay(record: string): void {
    remember(record);
    for (const viewer of viewers) {
      if (viewer.bufferedAmount > MAX_VIEWER_BACKLOG) viewer.terminate();
      else viewer.send(record);
    }
  }

  function remember(record: string): void {
    let parsed: { type?: unknown; sessionId?: unknown; snapshot?: { status?: unknown } };
    try {
      parsed = JSON.parse(record) as typeof parsed;
    } catch {
      return;
    }
    if (typeof parsed.sessionId !== 'string') return;
    if (parsed.type === '@xstate.actor') actors.set(parsed.sessionId, { actor: record, snapshot: null });
    if (parsed.type !== '@xstate.snapshot') return;
    // A finished actor is gone from the server; a late viewer need not hear of it.
    if (parsed.snapshot?.status !== 'active') actors.delete(parsed.sessionId);
    else {
      const live = actors.get(parsed.sessionId);
      if (live !== undefined) live.snapshot = record;
    }
  }

  const reachable = hostForUrl(host);

  return {
    pageUrl: `http://${reachable}:${boundPort}/`,
    sourceUrl: `ws://${reachable}:${boundPort}/source/${key}`,
    sourceConnected,
    async close() {
      for (const socket of wss.clients) socket.terminate();
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** An address a client on this machine can connect to: the wildcard ones mean loopback. */
function hostForUrl(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The bridge: records from the relay go to the inspector in the iframe by postMessage.
 * Records that arrive before the inspector says it is listening wait in a queue.
 */
function bridgePage(): string {
  const origin = new URL(INSPECTOR_UI).origin;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>chat-backend · Stately inspector</title>
<style>
  html, body { margin: 0; height: 100%; font: 13px system-ui, sans-serif; }
  body { display: flex; flex-direction: column; }
  header { padding: 6px 12px; background: #1f2430; color: #d8dee9; }
  iframe { flex: 1; border: 0; width: 100%; }
</style>
</head>
<body>
<header id="status">connecting to the relay…</header>
<iframe id="inspector" src="${INSPECTOR_UI}" title="Stately inspector"></iframe>
<script>
  const frame = document.getElementById('inspector');
  const status = document.getElementById('status');
  const queued = [];
  let listening = false;
  let received = 0;
  const show = () => { status.textContent = 'chat-backend: ' + received + ' inspection records' + (listening ? '' : ' (waiting for the inspector to load)'); };
  window.addEventListener('message', (event) => {
    if (event.origin !== ${JSON.stringify(origin)} || !event.data || event.data.type !== '@statelyai.connected') return;
    listening = true;
    for (const record of queued.splice(0)) frame.contentWindow.postMessage(record, ${JSON.stringify(origin)});
    show();
  });
  const socket = new WebSocket('ws://' + location.host + '/');
  socket.onopen = show;
  socket.onclose = () => { status.textContent = 'chat-backend: the relay closed (server stopped?); reload to reconnect'; };
  socket.onmessage = (event) => {
    const record = JSON.parse(event.data);
    received++;
    if (listening) frame.contentWindow.postMessage(record, ${JSON.stringify(origin)});
    else queued.push(record);
    show();
  };
</script>
</body>
</html>
`;
}
