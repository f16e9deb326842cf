/**
 * The adapter: it owns the socket and the timers, turns what they do into lifecycle events
 * (lifecycle.ts decides), carries out the effects, and keeps the facts that ride on the
 * frames: the position, the outbox, who is online.
 *
 * Sends are stop-and-wait: one message at a time is written and awaits its answer, the
 * server's copy of it (with its `cid`) or an error. Errors carry no `cid`, and in cluster
 * mode a copy comes back after the shared log while an error for a later message comes at
 * once; with one message out, an error can only be that message's.
 */
import type { ServerFrame } from '../src/frames.js';
import { DEFAULT_BACKOFF, backoffDelay, checkBounds, type BackoffBounds } from './backoff.js';
import { ChatError, type ChatErrorCode } from './errors.js';
import {
  hostTimers,
  randomPrefix,
  rethrowLater,
  webSocketConstructor,
  type Timers,
  type WebSocketLike,
} from './host.js';
import {
  begin,
  transition,
  type ConnectionState,
  type Effect,
  type Lifecycle,
  type LifecycleEvent,
} from './lifecycle.js';
import { Listeners } from './listeners.js';
import { DEFAULT_OUTBOX_LIMIT, Outbox } from './outbox.js';
import { Position } from './position.js';
import type { ChatClientOptions, ChatEvents, ChatMessage, Presence } from './types.js';

/** Server errors that answer a chat message, and so settle the one waiting for its answer. */
const SEND_ERRORS = new Set<ChatErrorCode>(['rate_limited', 'invalid_message', 'server_unavailable']);
/**
 * Refusals of a name that are no verdict on the name: the chat is away, or the client's
 * address holds or claimed too many names lately. The attempt ends and the next comes
 * after the backoff.
 */
const TRY_AGAIN_LATER = new Set<ChatErrorCode>(['server_unavailable', 'too_many_names', 'too_many_registrations']);

/**
 * After `rate_limited` the next message waits this long. The server tells only the first
 * message of a run that it was dropped; one sent while still over the rate would vanish
 * without an answer. The bucket refills at RATE_PER_SEC, at least 1 a second, so after a
 * second at least one token is there.
 */
const RATE_LIMIT_PAUSE_MS = 1_000;

/**
 * A message written and not answered in this long is written again, under its cid. The
 * server answers each message, but for one it drops over a rate it has already said
 * `rate_limited` for in the same run: after our pause the bucket an address's connections
 * share may still be empty. A resend is safe (the server recognises the cid), and costs
 * nothing when the first was only slow (its copy settles it; the second copy is seen).
 */
const ANSWER_WAIT_MS = 3_000;

/** The server's own REGISTER_TIMEOUT_MS: an attempt slower than the server allows is lost anyway. */
const DEFAULT_TIMEOUT_MS = 10_000;
/** Long enough that a server dropping every connection soon after its welcome is backed off from. */
const DEFAULT_STABLE_MS = 10_000;

/** LOST_CLAIM_MS's default: the server's 2 × HEARTBEAT_MS to notice a dead connection, then RESUME_WINDOW_MS. */
const DEFAULT_LOST_CLAIM_MS = 90_000;

/** A close code in the private range, not a clean close: the server keeps the session for a resume. */
const DROP_CODE = 4000;

/**
 * How long a socket dropped with close(4000), where there is no terminate() (a browser),
 * has for its close event. A dead peer never answers the closing handshake, and the host
 * may wait for it far longer than an attempt's deadline; after this the socket counts as gone.
 */
const DROP_WAIT_MS = 2_000;

export class ChatClient {
  private lifecycle: Lifecycle;
  private socket: WebSocketLike | null = null;
  /** We asked the socket to end: what it still delivers no longer counts. */
  private draining = false;
  /** The lifecycle's one timer: the retry wait, the attempt's deadline or the stable period. */
  private timer: unknown = null;
  /** Set while sends pause after `rate_limited`. */
  private pause: unknown = null;
  /** Set while a socket dropped without terminate() is given DROP_WAIT_MS to close. */
  private dropWait: unknown = null;
  /** The cid written on this connection whose answer has not come yet. */
  private awaiting: string | null = null;
  /** Set while `awaiting` waits for its answer: ANSWER_WAIT_MS, then it is written again. */
  private answerWait: unknown = null;
  private readonly outbox: Outbox<ChatMessage>;
  private readonly position = new Position();
  private readonly listeners = new Listeners<ChatEvents>((error, type) => this.listenerFailed(error, type));
  private readonly cidPrefix = randomPrefix();
  private cidCount = 0;
  private welcomedName: string | null = null;
  /** This socket asked for the name (`register`) and has had no answer to it yet. */
  private claimUnanswered = false;
  /** When (Date.now()) a socket was lost with its claim unanswered, until a welcome; else null. */
  private lostClaimAt: number | null = null;
  /** The server's last refusal while registering, to report if it closes the client. */
  private refusal: ChatError | null = null;
  /** The last socket's close reason, to report with `rejected`: the rule the server says was broken. */
  private closeReason = '';
  private online: string[] = [];
  private readonly WebSocket;
  private readonly bounds: BackoffBounds;
  private readonly timers: Timers;

  constructor(
    private readonly url: string,
    private readonly askedName: string,
    private readonly options: ChatClientOptions = {},
  ) {
    this.WebSocket = webSocketConstructor(options.WebSocket);
    this.bounds = checkBounds({ ...DEFAULT_BACKOFF, ...options.backoff });
    this.timers = options.timers ?? hostTimers;
    this.outbox = new Outbox(options.outboxLimit ?? DEFAULT_OUTBOX_LIMIT);
    const first = begin();
    this.lifecycle = first.lifecycle;
    for (const effect of first.effects) this.carryOut(effect);
  }

  /** Where the client is in its lifecycle. */
  get state(): ConnectionState {
    return this.lifecycle.state;
  }

  /** The name as the server welcomed it (normalised, trimmed); the one asked for until then. */
  get name(): string {
    return this.welcomedName ?? this.askedName;
  }

  /** Who is online, in the order they joined, as of the last welcome and the joins and leaves since. */
  get users(): readonly string[] {
    return this.online;
  }

  /** Calls `listener` for every `type` event; returns the function that stops it. */
  on<K extends keyof ChatEvents>(type: K, listener: (event: ChatEvents[K]) => void): () => void {
    return this.listeners.on(type, listener);
  }

  /**
   * Sends `text` under a new `cid`; resolves with the server's copy of it, which the
   * `message` event also shows (`own: true`). Offline, it waits in the outbox (at most
   * `outboxLimit` messages) and goes once the session is back, exactly once. Rejects with
   * a ChatError: the server's `rate_limited`, `invalid_message` or `server_unavailable`,
   * or `outbox_full`, `closed`, `outcome_unknown`.
   */
  send(text: string): Promise<ChatMessage> {
    // The server would answer a non-string with bad_frame, which settles no message.
    if (typeof text !== 'string') return Promise.reject(new TypeError(`send expects a string, got ${typeof text}`));
    if (this.lifecycle.state === 'closed') return Promise.reject(new ChatError('closed'));
    if (this.outbox.full) return Promise.reject(new ChatError('outbox_full'));
    const sent = this.outbox.add(`${this.cidPrefix}.${(this.cidCount++).toString(36)}`, text);
    this.writeNext();
    return sent;
  }

  /**
   * Leaves the chat: a clean close, so the others hear the leave at once. Messages still
   * waiting are rejected with `closed`. Offline, there is no socket to close: the server
   * ends the session when its resume window runs out.
   */
  close(): void {
    this.dispatch({ type: 'app.close' });
  }

  /**
   * Emits an event of the chat. A listener may have closed the client part way through a
   * step; once closed, nothing more is told (the `state` event entering `closed` is the last).
   */
  private emit<K extends Exclude<keyof ChatEvents, 'state'>>(type: K, event: ChatEvents[K]): void {
    this.listeners.emit(type, event, () => this.lifecycle.state !== 'closed');
  }

  /**
   * An app's listener threw. The app hears of it on `error`, as a browser reports a
   * listener's error without breaking the dispatch; with no `error` listener, or when one
   * threw, it is thrown again outside our call stack, so that a bug nobody handles stays
   * loud (in Node: an uncaught exception), as with an EventEmitter's unheard `error`.
   */
  private listenerFailed(error: unknown, type: keyof ChatEvents): void {
    if (type === 'error' || !this.listeners.has('error')) return rethrowLater(error);
    this.listeners.emit('error', new ChatError('listener_failed', undefined, undefined, undefined, { cause: error }));
  }

  private dispatch(event: LifecycleEvent): void {
    const before = this.lifecycle;
    const step = transition(before, event);
    this.lifecycle = step.lifecycle;
    for (const effect of step.effects) {
      // A listener called back in (close() from a `gap`): the newer step has the last word.
      if (this.lifecycle !== step.lifecycle) return;
      this.carryOut(effect);
    }
    if (this.lifecycle !== step.lifecycle || step.lifecycle.state === before.state) return;
    const closedBy = step.lifecycle.closedBy;
    let error: ChatError | undefined;
    if (closedBy !== null) {
      this.timers.clearTimeout(this.pause);
      this.pause = null;
      this.timers.clearTimeout(this.dropWait);
      this.dropWait = null;
      this.answered();
      this.outbox.failWhere(() => new ChatError('closed'));
      if (closedBy.reason !== 'closed') {
        // A refused name: the server's own error, text and all.
        error =
          this.refusal?.code === closedBy.reason
            ? this.refusal
            : new ChatError(closedBy.reason, undefined, closedBy.code, this.closeReason);
      }
    }
    const current = () => this.lifecycle === step.lifecycle;
    const lost = step.lifecycle.state === 'reconnecting' && event.type === 'socket.closed';
    const change = {
      state: step.lifecycle.state,
      previous: before.state,
      error,
      ...(lost ? { closeCode: event.code } : {}),
    };
    this.listeners.emit('state', change, current);
  }

  private carryOut(effect: Effect): void {
    switch (effect.type) {
      case 'openSocket':
        return this.open();
      case 'register':
        this.claimUnanswered = true;
        return this.write({
          sender: this.askedName,
          text: '',
          ...(this.options.history ? { history: this.options.history } : {}),
        });
      case 'resume':
        // `sender` too, though ignored: a server without sessions reads a registration.
        return this.write({
          sender: this.name,
          text: '',
          session: effect.session.secret,
          epoch: effect.session.epoch,
          ...(this.position.since !== undefined ? { since: this.position.since } : {}),
        });
      case 'dropSocket':
        return this.endSocket(DROP_CODE);
      case 'leave':
        return this.endSocket(1000);
      case 'startTimer':
        return this.startTimer(effect);
      case 'stopTimer':
        return this.stopTimer();
      case 'sessionLost':
        // A message written on the lost session may have been delivered, and the new session
        // cannot recognise its cid: only the app can decide whether to send it again.
        this.outbox.failWhere(
          () => new ChatError('outcome_unknown'),
          (message) => message.written,
        );
        return this.emit('gap', { reason: 'session_lost' });
      case 'online':
        return this.writeNext();
    }
  }

  private open(): void {
    const socket = new this.WebSocket(this.url);
    this.socket = socket;
    this.draining = false;
    this.claimUnanswered = false;
    socket.onopen = () => {
      if (socket === this.socket && !this.draining) this.dispatch({ type: 'socket.opened' });
    };
    socket.onmessage = (event) => {
      if (socket === this.socket && !this.draining) this.receive(event.data);
    };
    socket.onclose = (event) => this.closed(socket, event.code, event.reason ?? '');
    socket.onerror = () => {}; // a close event follows; it is the one that counts
  }

  private closed(socket: WebSocketLike, code: number, reason: string): void {
    if (socket !== this.socket) return;
    this.socket = null;
    this.timers.clearTimeout(this.dropWait);
    this.dropWait = null;
    this.closeReason = reason;
    this.answered();
    // The server may have granted the name and lost only its answer: its session would hold the name.
    if (this.claimUnanswered) this.lostClaimAt = Date.now();
    this.claimUnanswered = false;
    // A new connection has a full rate bucket.
    this.timers.clearTimeout(this.pause);
    this.pause = null;
    this.dispatch({ type: 'socket.closed', code });
  }

  private endSocket(code: number): void {
    const socket = this.socket;
    if (socket === null || this.draining) return;
    this.draining = true;
    this.answered();
    if (code === 1000) return socket.close(code);
    if (socket.terminate !== undefined) return socket.terminate();
    socket.close(code);
    // No close event from it counts after this one: a late one finds another socket (or none) current.
    this.dropWait = this.timers.setTimeout(() => {
      this.dropWait = null;
      this.closed(socket, 1006, '');
    }, DROP_WAIT_MS);
  }

  private write(frame: object): void {
    if (this.socket !== null && !this.draining) this.socket.send(JSON.stringify(frame));
  }

  private startTimer(effect: Extract<Effect, { type: 'startTimer' }>): void {
    this.stopTimer();
    const ms =
      effect.timer === 'retry'
        ? backoffDelay(effect.failures, this.bounds, this.options.random ?? Math.random)
        : effect.timer === 'deadline'
          ? (this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
          : (this.options.stableMs ?? DEFAULT_STABLE_MS);
    const event = { type: `timer.${effect.timer}` } as const;
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      this.dispatch(event);
    }, ms);
  }

  private stopTimer(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  /** Writes the oldest waiting message, unless one is out already (stop-and-wait). */
  private writeNext(): void {
    if (this.lifecycle.state !== 'online' || this.awaiting !== null || this.pause !== null) return;
    const next = this.outbox.first();
    if (next === undefined || this.socket === null || this.draining) return;
    this.awaiting = next.cid;
    this.outbox.markWritten(next.cid);
    this.write({ sender: this.name, text: next.text, cid: next.cid });
    this.waitForAnswer();
  }

  /** Nothing is out any more: what was awaited is answered, or its connection is gone. */
  private answered(): void {
    this.awaiting = null;
    this.timers.clearTimeout(this.answerWait);
    this.answerWait = null;
  }

  /** No answer in ANSWER_WAIT_MS: write the awaited message again, under its cid. */
  private waitForAnswer(): void {
    this.timers.clearTimeout(this.answerWait);
    this.answerWait = this.timers.setTimeout(() => {
      this.answerWait = null;
      const cid = this.awaiting;
      if (cid === null || this.socket === null || this.draining) return;
      const waiting = this.outbox.get(cid);
      // Settled already (a replay brought its copy): only its resend's answer was missing.
      if (waiting === undefined) {
        this.answered();
        return this.writeNext();
      }
      this.write({ sender: this.name, text: waiting.text, cid });
      this.waitForAnswer();
    }, ANSWER_WAIT_MS);
  }

  private receive(data: unknown): void {
    const frame = parseFrame(data);
    if (frame === null) return; // not the protocol: nothing to act on
    switch (frame.type) {
      case 'welcome':
        return this.welcomed(frame);
      case 'error':
        return this.refused(frame);
      case 'message':
        return this.chatMessage(frame);
      case 'join':
      case 'leave':
        return this.presence(frame);
    }
  }

  private welcomed(frame: Extract<ServerFrame, { type: 'welcome' }>): void {
    if (this.lifecycle.state !== 'registering') return;
    if (frame.resumed === true) this.position.resumed(frame.epoch);
    else this.position.registered(frame.epoch, frame.id);
    this.welcomedName = frame.name;
    this.online = [...frame.users];
    this.claimUnanswered = false;
    this.lostClaimAt = null;
    this.dispatch({ type: 'server.welcome', session: { secret: frame.session, epoch: frame.epoch } });
    const resumed = frame.resumed === true;
    this.emit('welcome', {
      name: frame.name,
      users: this.online,
      resumed,
      ...(resumed ? { recovered: frame.recovered === true } : {}),
    });
    if (resumed && frame.recovered !== true) this.emit('gap', { reason: 'not_recovered' });
  }

  private refused(frame: Extract<ServerFrame, { type: 'error' }>): void {
    const error = new ChatError(frame.code, frame.text);
    if (this.lifecycle.state === 'registering') {
      if (frame.code === 'name_taken' && this.ownClaimMayHold()) {
        // Perhaps by our own lost attempt's session: tried again until it must have ended.
        this.claimUnanswered = false;
        return this.dispatch({ type: 'server.refused', code: frame.code, ownClaimMayHold: true });
      }
      // Answered, whatever the answer: a claim refused server_unavailable made no session either.
      this.claimUnanswered = false;
      this.refusal = error;
      this.emit('error', error);
      if (frame.code === 'name_taken' || frame.code === 'invalid_name') {
        this.dispatch({ type: 'server.refused', code: frame.code });
      } else if (frame.code === 'session_expired') this.dispatch({ type: 'server.sessionExpired' });
      else if (TRY_AGAIN_LATER.has(frame.code)) this.dispatch({ type: 'server.unavailable' });
      return;
    }
    if (this.awaiting !== null && SEND_ERRORS.has(frame.code)) {
      const cid = this.awaiting;
      this.answered();
      // The pause first: an `error` listener that closes the client clears it.
      if (frame.code === 'rate_limited') {
        this.pause = this.timers.setTimeout(() => {
          this.pause = null;
          this.writeNext();
        }, RATE_LIMIT_PAUSE_MS);
      }
      // Not waiting any more: the resend of a message whose copy the replay brought. The
      // message arrived; that its needless resend failed (cluster mode: Redis failing just
      // then) is nothing to tell.
      this.outbox.fail(cid, error);
      return this.writeNext();
    }
    this.emit('error', error);
  }

  /** Whether a name_taken may be this client's own: a claim of its went unanswered within lostClaimMs. */
  private ownClaimMayHold(): boolean {
    const window = this.options.lostClaimMs ?? DEFAULT_LOST_CLAIM_MS;
    return this.lostClaimAt !== null && Date.now() - this.lostClaimAt < window;
  }

  private chatMessage(frame: Extract<ServerFrame, { type: 'message' }>): void {
    const own = frame.cid !== undefined || frame.sender === undefined;
    const message: ChatMessage = {
      id: frame.id,
      ts: frame.ts,
      sender: frame.sender ?? this.name,
      text: frame.text,
      own,
      replay: frame.replay === true,
      ...(frame.cid !== undefined ? { cid: frame.cid } : {}),
    };
    const verdict = this.position.admit(frame);
    // Settled before it is shown: a listener that closes the client must not reject the very
    // message it was shown. A replay's copy of something still waiting settles it too (it
    // arrived), but it does not answer what is out: the resend written at the welcome is still
    // to be answered, by its own copy or an error, and that answer must not be taken for the
    // next message's.
    const answered = frame.cid !== undefined && frame.cid === this.awaiting && frame.replay !== true;
    if (frame.cid !== undefined) this.outbox.confirm(frame.cid, message);
    if (answered) this.answered();
    if (verdict !== 'seen') this.emit('message', message);
    if (answered) this.writeNext();
  }

  private presence(frame: Extract<ServerFrame, { type: 'join' | 'leave' }>): void {
    if (this.position.admit(frame) === 'seen') return;
    const event: Presence = { id: frame.id, ts: frame.ts, name: frame.name, replay: frame.replay === true };
    // A replay's joins and leaves happened before the welcome, whose `users` already counts them.
    if (!event.replay) {
      this.online =
        frame.type === 'join' ? [...this.online, frame.name] : this.online.filter((name) => name !== frame.name);
    }
    this.emit(frame.type, event);
  }
}

/** A server frame, or null for anything that is not a JSON object with a string `type`. */
function parseFrame(data: unknown): ServerFrame | null {
  if (typeof data !== 'string') return null;
  try {
    const value: unknown = JSON.parse(data);
    if (typeof value !== 'object' || value === null || typeof (value as { type?: unknown }).type !== 'string') {
      return null;
    }
    return value as ServerFrame;
  } catch {
    return null;
  }
}
