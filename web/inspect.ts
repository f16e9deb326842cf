/**
 * The lifecycle page: reads the server-sent events of /inspect/events (src/live-view.ts)
 * and fills in the tiles, the count badges of the generated state charts (the connection
 * machine's and the session machine's), the live feed and the totals. The page holds no
 * message text and no session secret because the feed carries neither.
 */
import { byId, clockTime, element } from './dom.js';

/** One update, as src/live-view.ts's LiveUpdate sends it. */
interface LiveUpdate {
  reset: boolean;
  states: Record<string, number>;
  sessions: Record<string, number>;
  totals: { opened: number; joined: number; closed: number; resumed: number; ended: number };
  errors: Record<string, number>;
  leaves: Record<string, number>;
  ends: Record<string, number>;
  entries: Entry[];
  skipped: number;
}

interface Entry {
  at: number;
  kind: 'opened' | 'joined' | 'left' | 'resumed' | 'ended' | 'error' | 'closed' | 'crashed';
  /** Absent from `ended`: a session may end with no connection at all. */
  conn?: string;
  name?: string | null;
  cause?: string;
  code?: string | number;
  recovered?: boolean;
  replayed?: number;
}

const CAUSES: Record<string, string> = {
  close: 'closed the connection',
  heartbeat: 'missed a heartbeat',
  slow: 'too slow to read (unsent data over the limit)',
  policy: 'broke a rule (policy close)',
  shutdown: 'server shutting down',
  error: 'internal error',
  lost: 'name given up during a store outage (cluster)',
  dropped: 'connection dropped without a clean close',
  takenOver: 'taken over: the session was resumed on a newer connection',
};

/** Why a session ended, beyond how its last connection did. */
const SESSION_END_CAUSES: Record<string, string> = {
  expired: 'nobody resumed it within RESUME_WINDOW_MS',
  evicted: 'too many sessions were waiting; the one waiting longest gave way',
  close: 'the client closed the connection',
  dropped: 'connection dropped, and sessions are not kept (RESUME_WINDOW_MS is 0)',
  policy: 'the client broke a rule',
  shutdown: 'server shutting down',
};
/** Causes where the server ended the client: shown as kicks. */
const KICKS = new Set(['slow', 'heartbeat', 'policy', 'lost']);

const CLOSE_CODES: Record<number, string> = {
  1000: 'normal',
  1001: 'going away',
  1005: 'no code',
  1006: 'dropped, no close frame',
  1008: 'policy',
  1009: 'frame too big',
  1011: 'internal error',
  1013: 'server full',
  4001: 'name lost (cluster)',
  4002: 'taken over by a newer connection',
};

const MAX_SHOWN = 300;

const status = byId('status');
const feed = byId('feed');
const feedEmpty = byId('feed-empty');
/** Each chart's badges, with the machine it draws (`data-machine` on its SVG). */
const charts = [...document.querySelectorAll<SVGSVGElement>('svg.statechart')].map((svg) => ({
  machine: svg.dataset.machine ?? '',
  badges: [...svg.querySelectorAll<SVGTextElement>('[data-count]')],
}));

const events = new EventSource('/inspect/events');
events.addEventListener('open', () => setStatus('live', 'live'));
events.addEventListener('error', () => {
  if (events.readyState === EventSource.CLOSED) setStatus('down', 'disconnected — reload the page');
  else setStatus('waiting', 'reconnecting…');
});
events.addEventListener('message', (event: MessageEvent<string>) => apply(JSON.parse(event.data) as LiveUpdate));

function setStatus(state: string, text: string): void {
  status.dataset.state = state;
  status.textContent = text;
}

function apply(update: LiveUpdate): void {
  const open = sumOfTopLevel(update.states);
  for (const { machine, badges } of charts) {
    // Each chart's counts, and what its terminal state totals since start.
    const counts = machine === 'session' ? update.sessions : update.states;
    const finished = machine === 'session' ? update.totals.ended : update.totals.closed;
    fillBadges(badges, counts, finished);
  }
  setTile('tile-open', open);
  setTile('tile-awaiting', countOf(update.states, 'awaitingName'));
  setTile('tile-registered', countOf(update.states, 'registered'));
  setTile('tile-detached', update.sessions['detached'] ?? 0);
  setTile('tile-opened', update.totals.opened);
  setTile('tile-closed', update.totals.closed);
  setTile('tile-resumed', update.totals.resumed);

  if (update.reset) feed.replaceChildren();
  for (const entry of update.entries) feed.prepend(renderEntry(entry, !update.reset));
  if (update.skipped > 0) feed.prepend(element('li', 'skipped', `… ${update.skipped} more, not shown`));
  while (feed.children.length > MAX_SHOWN) feed.lastElementChild?.remove();
  feedEmpty.hidden = feed.children.length > 0;

  fillTable('errors', update.errors);
  fillTable('leaves', update.leaves, (cause) => CAUSES[cause] ?? cause);
  fillTable('ends', update.ends, endCauseText);
}

/** The badges of one chart: its root holds all the running ones, its terminal state `finished`. */
function fillBadges(badges: SVGTextElement[], counts: Record<string, number>, finished: number): void {
  const running = sumOfTopLevel(counts);
  for (const badge of badges) {
    const path = badge.dataset.count ?? '';
    const box = badge.closest('.state');
    const isTerminal = box?.classList.contains('terminal') ?? false;
    const count = path === '' ? running : isTerminal ? finished : (counts[path] ?? 0);
    badge.textContent = String(count);
    // The machine's own box and the terminal state hold totals, not a place anyone is in.
    box?.classList.toggle('occupied', count > 0 && !isTerminal && path !== '');
  }
}

/** How many are in the machine at all: its top-level states add up to that. */
function sumOfTopLevel(counts: Record<string, number>): number {
  return Object.entries(counts)
    .filter(([path]) => !path.includes('.'))
    .reduce((sum, [, count]) => sum + count, 0);
}

function endCauseText(cause: string): string {
  return SESSION_END_CAUSES[cause] ?? CAUSES[cause] ?? cause;
}

/** The count of the state with this name, wherever it sits (`open.registered`). */
function countOf(states: Record<string, number>, name: string): number {
  return Object.entries(states).find(([path]) => path === name || path.endsWith(`.${name}`))?.[1] ?? 0;
}

function setTile(id: string, value: number): void {
  const tile = byId(id);
  if (tile.textContent === String(value)) return;
  tile.textContent = String(value);
  tile.classList.remove('bump');
  void tile.offsetWidth; // restart the animation
  tile.classList.add('bump');
}

function renderEntry(entry: Entry, fresh: boolean): HTMLElement {
  const { tag, parts } = describe(entry);
  const item = element('li', fresh ? 'fresh' : '');
  item.dataset.kind = tag;
  const what = element('span', 'what');
  what.append(...parts);
  item.append(element('time', '', clockTime(entry.at, true)), element('span', `kind ${tag}`, tag), what);
  return item;
}

/** The tag and the words of one entry; names and codes go in as text nodes, never markup. */
function describe(entry: Entry): { tag: string; parts: Array<string | Node> } {
  const conn = entry.conn ?? '';
  const who = entry.name ? `${entry.name} (${conn})` : conn;
  switch (entry.kind) {
    case 'opened':
      return { tag: 'opened', parts: [`${entry.conn} connected`] };
    case 'joined':
      return { tag: 'joined', parts: [`${entry.conn} joined as `, element('strong', '', entry.name ?? '')] };
    case 'left': {
      const cause = entry.cause ?? 'close';
      return {
        tag: KICKS.has(cause) ? 'kicked' : 'left',
        parts: [element('strong', '', entry.name ?? ''), ` left: ${CAUSES[cause] ?? cause}`],
      };
    }
    case 'resumed':
      return {
        tag: 'resumed',
        parts: [
          `${conn} resumed the session of `,
          element('strong', '', entry.name ?? ''),
          entry.recovered === true
            ? ` · ${plural(entry.replayed ?? 0, 'missed event')} replayed`
            : ' · not recovered: it gave no position in this epoch, or history no longer reaches back to it',
        ],
      };
    case 'ended': {
      const cause = entry.cause ?? 'expired';
      return {
        tag: 'ended',
        parts: [
          'session of ',
          element('strong', '', entry.name ?? ''),
          ` ended: ${endCauseText(cause)} · `,
          element('code', '', cause),
        ],
      };
    }
    case 'error':
      return { tag: 'error', parts: [element('code', '', String(entry.code)), ` to ${who}`] };
    case 'closed': {
      const code = Number(entry.code);
      return { tag: 'closed', parts: [`${entry.conn} closed · ${code} ${CLOSE_CODES[code] ?? ''}`] };
    }
    case 'crashed':
      return { tag: 'crashed', parts: [`${entry.conn}: its actor crashed (closed with 1011)`] };
  }
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function fillTable(id: string, counts: Record<string, number>, explain?: (key: string) => string): void {
  const rows = Object.entries(counts)
    .filter(([, count]) => count > 0)
    .sort(([, a], [, b]) => b - a)
    .map(([key, count]) => {
      const row = element('tr');
      const name = element('td');
      name.append(element('code', '', key));
      if (explain !== undefined) name.append(` ${explain(key)}`);
      row.append(name, element('td', '', String(count)));
      return row;
    });
  byId(id).replaceChildren(...rows);
  byId(`${id}-empty`).hidden = rows.length > 0;
}
