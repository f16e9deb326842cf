/**
 * The Prometheus metrics served at /metrics (prom-client): one registry per server, plus
 * the process-wide default metrics (CPU, memory, event-loop delay, GC, handles).
 *
 * Counting costs next to nothing where it happens often: a broadcast adds its recipient
 * count to a plain number, which prom-client reads only when /metrics is scraped.
 * Connections per state are read from the actors themselves at scrape time.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { closeCodes, errors, type ErrorCode, type LeaveCause, type SessionEndCause } from './errors.js';
import { ADDRESS_LIMITS, type AddressLimit } from './address-limits.js';
import type { Readiness } from './cluster/availability.machine.js';

/** Connections per machine state, e.g. `{ awaitingName: 3, registered: 40 }`. */
export type StateCounts = Record<string, number>;

/** Why a name was refused: the error code the client got. */
export type RefusalReason = Extract<ErrorCode, 'invalid_name' | 'name_taken' | 'server_unavailable'>;

const REFUSAL_REASONS: RefusalReason[] = ['invalid_name', 'name_taken', 'server_unavailable'];
/** Every cause, so that each series starts at 0; the compiler says when one is missing. */
const LEAVE_CAUSES = Object.keys({
  close: true,
  dropped: true,
  takenOver: true,
  heartbeat: true,
  slow: true,
  policy: true,
  shutdown: true,
  error: true,
  lost: true,
} satisfies Record<LeaveCause, true>);
const SESSION_END_CAUSES = [...LEAVE_CAUSES, 'expired', 'evicted'] satisfies string[];

/** How a resume went: replayed what was missed, welcomed without a replay, or no such session. */
export type ResumeOutcome = 'recovered' | 'not_recovered' | 'expired';
const RESUME_OUTCOMES: ResumeOutcome[] = ['recovered', 'not_recovered', 'expired'];

/** Why a TCP connection was dropped before a request was read from it (src/socket-limits.ts). */
export type DropReason = 'socket_limit' | 'address_limit' | 'accept_error';
const DROP_REASONS: DropReason[] = ['socket_limit', 'address_limit', 'accept_error'];

/**
 * Why a WebSocket upgrade was refused (src/admission.ts, src/upgrade-refusals.ts): `path`
 * (404), `origin` (403), `full` (MAX_CONNECTIONS: 503), `starting` (a cluster node not
 * joined yet: 503), `stopping` (503), one of the client address's limits (`address_…`:
 * 429 or 503), `handshake` (not a valid WebSocket handshake: ws's 400 or 405).
 */
export type UpgradeRefusal =
  | 'path'
  | 'origin'
  | 'full'
  | 'starting'
  | 'stopping'
  | 'address_connects'
  | 'address_connections'
  | 'address_unregistered'
  | 'handshake';
/** Every reason, so that each series starts at 0; the compiler says when one is missing. */
const UPGRADE_REFUSALS = Object.keys({
  path: true,
  origin: true,
  full: true,
  starting: true,
  stopping: true,
  address_connects: true,
  address_connections: true,
  address_unregistered: true,
  handshake: true,
} satisfies Record<UpgradeRefusal, true>);

/** Every cluster readiness (src/cluster/availability.machine.ts), so that each series is there from the start. */
const CLUSTER_READINESS = Object.keys({
  serving: true,
  starting: true,
  grace: true,
  unavailable: true,
} satisfies Record<Readiness, true>);

const OUR_CLOSE_CODES = new Set<number>(Object.values(closeCodes));

/**
 * A close code as a label: the registered ones (1000-1015: RFC 6455 and IANA's registry)
 * and ours keep their number. A client may close with any code from 3000 to 4999, and each
 * as a label of its own would let one client add some 2,000 series to every scrape; those
 * count as "other".
 */
function closeCodeLabel(code: number): string {
  return (code >= 1000 && code <= 1015) || OUR_CLOSE_CODES.has(code) ? String(code) : 'other';
}

let processRegistry: Registry | null = null;

/**
 * prom-client's defaults that walk every socket on each scrape: the open file descriptors
 * (a listing of /proc/self/fd) and libuv's active handles, requests and resources (an
 * array of each). With 10,000 clients they made a scrape cost 19× one with none. The
 * sockets are counted as they come and go instead (`chat_sockets_open`, `chat_connections`).
 */
const PER_SOCKET_DEFAULTS = [
  'process_open_fds',
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_requests',
  'nodejs_active_requests_total',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
];

/** Process metrics describe the process, not one server: collected once, however many servers start. */
function processMetrics(): Registry {
  if (processRegistry === null) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
    for (const name of PER_SOCKET_DEFAULTS) processRegistry.removeSingleMetric(name);
  }
  return processRegistry;
}

export class Metrics {
  private readonly registry = new Registry();
  /** Plain numbers on the broadcast path; moved into their counters at scrape time. */
  private messagesReceived = 0;
  private deliveries = 0;

  private readonly opened = this.counter('chat_connections_opened_total', 'WebSocket connections accepted');
  private readonly closed = this.counter(
    'chat_connections_closed_total',
    'WebSocket connections closed, by close code seen on the socket (1006: dropped without a close frame; "other": an application code the client chose)',
    ['code'],
  );
  private readonly accepted = this.counter('chat_registrations_accepted_total', 'names accepted');
  private readonly refused = this.counter(
    'chat_registrations_refused_total',
    'names refused, by reason (the error code sent)',
    ['reason'],
  );
  private readonly clientErrors = this.counter('chat_errors_total', 'error frames sent to clients, by code', ['code']);
  private readonly leaves = this.counter(
    'chat_leaves_total',
    "registered clients' connections that ended, by cause (a session may outlive them: chat_sessions_ended_total)",
    ['cause'],
  );
  private readonly sessionsEnded = this.counter(
    'chat_sessions_ended_total',
    'sessions that ended and were announced as left, by cause (expired: not resumed within RESUME_WINDOW_MS)',
    ['cause'],
  );
  private readonly resumes = this.counter('chat_resumes_total', 'resume attempts, by outcome', ['outcome']);
  private readonly replayedFrames = this.counter(
    'chat_replayed_frames_total',
    'frames sent again from history (resumes and history on arrival)',
  );
  private readonly slowKicks = this.counter(
    'chat_slow_consumer_kicks_total',
    'clients ended because their unsent data passed MAX_BUFFERED_BYTES',
  );
  private readonly limitedTotal = this.counter(
    'chat_limited_total',
    'connects, claims and messages refused because their client address was over a limit, by limit (connections, unregistered: HTTP 503; connects: HTTP 429; names, registrations: an error frame; messages: dropped, rate_limited)',
    ['limit'],
  );
  private readonly socketsDropped = this.counter(
    'chat_sockets_dropped_total',
    'TCP connections to the chat port dropped before a request was read: socket_limit (too many sockets open), address_limit (too many from one client address), accept_error (accept() failed: EMFILE, ENFILE…)',
    ['reason'],
  );
  private readonly upgradesRefused = this.counter(
    'chat_upgrades_refused_total',
    'WebSocket upgrades refused, by reason: path (404), origin (403), full (503), starting (503: a cluster node not joined yet), stopping (503), address_connects (429), address_connections and address_unregistered (503: also in chat_limited_total), handshake (400/405: not a valid WebSocket handshake)',
    ['reason'],
  );
  private readonly crashes = this.counter(
    'chat_connection_crashes_total',
    'connection actors that threw (a bug; closed with 1011)',
  );

  /**
   * @param countStates reads the live connections per machine state (called on every scrape)
   * @param countDetached reads the sessions waiting for a resume (likewise)
   */
  constructor(countStates: () => StateCounts, countDetached: () => number) {
    new Gauge({
      name: 'chat_sessions_detached',
      help: 'sessions whose connection was lost, waiting for a resume',
      registers: [this.registry],
      collect() {
        this.set(countDetached());
      },
    });
    this.readAtScrape(
      'chat_messages_received_total',
      "chat messages accepted from this server's clients and broadcast",
      () => this.messagesReceived,
    );
    this.readAtScrape(
      'chat_deliveries_total',
      'frames written to clients by broadcasts (welcomes, joins, messages, leaves; one per recipient)',
      () => this.deliveries,
    );
    new Gauge({
      name: 'chat_connections',
      help: 'open connections by connection machine state',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [state, count] of Object.entries(countStates())) this.set({ state }, count);
      },
    });
    // Known label values start at 0, so that rate() and alerts see them before the first event.
    for (const reason of REFUSAL_REASONS) this.refused.inc({ reason }, 0);
    for (const code of Object.keys(errors)) this.clientErrors.inc({ code }, 0);
    for (const cause of LEAVE_CAUSES) this.leaves.inc({ cause }, 0);
    for (const cause of SESSION_END_CAUSES) this.sessionsEnded.inc({ cause }, 0);
    for (const outcome of RESUME_OUTCOMES) this.resumes.inc({ outcome }, 0);
    this.replayedFrames.inc(0);
    for (const limit of ADDRESS_LIMITS) this.limitedTotal.inc({ limit }, 0);
    for (const reason of DROP_REASONS) this.socketsDropped.inc({ reason }, 0);
    for (const reason of UPGRADE_REFUSALS) this.upgradesRefused.inc({ reason }, 0);
  }

  upgradeRefused(reason: UpgradeRefusal): void {
    this.upgradesRefused.inc({ reason });
  }

  /** Cluster mode: the node's readiness, read at scrape time; 1 for the state it is in, 0 for the others. */
  watchCluster(readiness: () => Readiness): void {
    new Gauge({
      name: 'chat_cluster_state',
      help: 'cluster mode: 1 for the state the node is in: serving, starting (not joined yet: Redis found empty, its grace running), grace (back on an emptied Redis: claims wait), unavailable (Redis unreachable)',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const now = readiness();
        for (const state of CLUSTER_READINESS) this.set({ state }, state === now ? 1 : 0);
      },
    });
  }

  /** A client address was held to `limit` once more. */
  limited(limit: AddressLimit): void {
    this.limitedTotal.inc({ limit });
  }

  socketDropped(reason: DropReason): void {
    this.socketsDropped.inc({ reason });
  }

  /**
   * The chat port's TCP sockets, read at scrape time: those open (WebSockets, handshakes,
   * plain HTTP) and the most it holds.
   */
  watchSockets(open: () => Promise<number>, limit: number): void {
    new Gauge({
      name: 'chat_sockets_open',
      help: 'TCP sockets open on the chat port: WebSockets, handshakes and plain HTTP',
      registers: [this.registry],
      async collect() {
        this.set(await open());
      },
    });
    new Gauge({
      name: 'chat_sockets_limit',
      help: 'the most TCP sockets the chat port holds (MAX_CONNECTIONS + 10 %, lower under a low file limit)',
      registers: [this.registry],
    }).set(limit);
  }

  sessionEnded(cause: SessionEndCause): void {
    this.sessionsEnded.inc({ cause });
  }

  resumed(outcome: ResumeOutcome, replayed = 0): void {
    this.resumes.inc({ outcome });
    if (replayed > 0) this.replayedFrames.inc(replayed);
  }

  /** Frames of `history` sent on arrival. */
  replayed(frames: number): void {
    this.replayedFrames.inc(frames);
  }

  connectionOpened(): void {
    this.opened.inc();
  }

  connectionClosed(code: number): void {
    this.closed.inc({ code: closeCodeLabel(code) });
  }

  registrationAccepted(): void {
    this.accepted.inc();
  }

  registrationRefused(reason: RefusalReason): void {
    this.refused.inc({ reason });
  }

  clientError(code: ErrorCode): void {
    this.clientErrors.inc({ code });
  }

  memberLeft(cause: LeaveCause): void {
    this.leaves.inc({ cause });
    if (cause === 'slow') this.slowKicks.inc();
  }

  connectionCrashed(): void {
    this.crashes.inc();
  }

  /** Once per broadcast, never per recipient. */
  broadcast(recipients: number, isLocalMessage: boolean): void {
    this.deliveries += recipients;
    if (isLocalMessage) this.messagesReceived += 1;
  }

  /** The Prometheus text exposition: this server's metrics, then the process's. */
  async render(): Promise<{ contentType: string; body: string }> {
    const body = (await this.registry.metrics()) + (await processMetrics().metrics());
    return { contentType: this.registry.contentType, body };
  }

  /** A counter whose value is a plain number kept elsewhere, copied in when scraped. */
  private readAtScrape(name: string, help: string, read: () => number): void {
    new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }

  private counter(name: string, help: string, labelNames: string[] = []): Counter<string> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }
}
