/**
 * `--inspect`: the hub and every connection actor reported to the Stately inspector
 * through `@statelyai/inspect`'s WebSocket inspector, which connects to our relay on
 * INSPECT_HOST:INSPECT_PORT (src/inspector-relay.ts). Off, nothing is started and the hub
 * gets no `inspect` option at all, so inspection costs nothing.
 *
 * Chat text never leaves the process, as in the logs: an event's `text` (a client frame, a
 * message on its way to the bus) is replaced by its length before it is sent. A session's
 * secret never leaves it at all: it is replaced where events carry it (a client's resume
 * frame, the hub's `conn.resume`), and only actors, events and snapshots are reported, never
 * actions, whose parameters hold the frames a welcome carries the secret in. Snapshots show
 * none: the registry keeps hashes, and the hub holds a secret only until its welcome, as a
 * `Secret` that serializes as `‹secret›` (machines/secret.ts).
 */
import { createWebSocketInspector } from '@statelyai/inspect';
import type { AnyEventObject, InspectionEvent, Observer } from 'xstate';
import type { Config } from './config.js';
import { ConfigError } from './errors.js';
import { startInspectorRelay } from './inspector-relay.js';
import type { Logger } from './log.js';

export interface Inspection {
  /** The observer to pass as `createActor(…, { inspect })`; it sees every actor of that system. */
  readonly inspect: Observer<InspectionEvent>;
  /** The page to open in a browser. */
  readonly pageUrl: string;
  close(): Promise<void>;
}

/** How long the in-process inspector may take to reach the relay next door. */
const CONNECT_TIMEOUT_MS = 5_000;

export async function startInspection(
  config: Pick<Config, 'inspectHost' | 'inspectPort'>,
  log: Logger,
): Promise<Inspection> {
  const relay = await startInspectorRelay(config.inspectHost, config.inspectPort).catch((err: Error) => {
    throw new ConfigError(`INSPECT_PORT: cannot listen on ${config.inspectHost}:${config.inspectPort}: ${err.message}`);
  });
  const inspector = createWebSocketInspector({ url: relay.sourceUrl, sanitizeEvent: redactEvent });
  // Until the source is connected, the library retries on a timer of its own; wait, so that
  // close() never leaves such a timer behind.
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the inspector did not reach its relay')), CONNECT_TIMEOUT_MS);
  });
  try {
    await Promise.race([relay.sourceConnected, timeout]);
  } catch (err) {
    inspector.stop();
    await relay.close();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  log.info({ url: relay.pageUrl }, 'inspector relay listening');
  return {
    inspect: reportedOnly(inspector.inspect),
    pageUrl: relay.pageUrl,
    async close() {
      inspector.stop();
      await relay.close();
    },
  };
}

/** The options that attach an inspection to an actor system: none at all when it is off. */
export function inspectOption(inspection: Inspection | null): { inspect?: Observer<InspectionEvent> } {
  return inspection === null ? {} : { inspect: inspection.inspect };
}

/**
 * What the inspector is told of: actors, the events they receive, their snapshots. Actions
 * (`@xstate.action`) carry their parameters, an emitted welcome and its secret among them;
 * microsteps add nothing the snapshots do not show.
 */
const REPORTED = new Set(['@xstate.actor', '@xstate.event', '@xstate.snapshot']);

/** An observer that passes on to `inspect` only what the inspector is told of (REPORTED). */
export function reportedOnly(inspect: Observer<InspectionEvent>): Observer<InspectionEvent> {
  return {
    next: (event) => {
      if (REPORTED.has(event.type)) inspect.next?.(event);
    },
  };
}

/** Where events carry a session's secret: event type -> the field that holds it. */
const SECRET_FIELDS: Record<string, string> = {
  // A client's first frame naming the session to resume (its `session` elsewhere is a session id).
  'client.frame': 'session',
  'conn.resume': 'secret',
};

const HIDDEN_SECRET = '‹secret›';

/**
 * An event as the inspector may see it: `text` in it, or in the chat event it carries,
 * becomes its length in code points, and a session's secret becomes `‹secret›`.
 */
export function redactEvent(event: AnyEventObject): AnyEventObject {
  let redacted = event;
  if (typeof event.text === 'string') redacted = { ...redacted, text: lengthOf(event.text) };
  const inner: unknown = event.event;
  if (typeof inner === 'object' && inner !== null && typeof (inner as { text?: unknown }).text === 'string') {
    redacted = { ...redacted, event: { ...inner, text: lengthOf((inner as { text: string }).text) } };
  }
  const secretField = Object.hasOwn(SECRET_FIELDS, event.type) ? SECRET_FIELDS[event.type]! : null;
  if (secretField !== null && event[secretField] !== undefined)
    redacted = { ...redacted, [secretField]: HIDDEN_SECRET };
  return redacted;
}

function lengthOf(text: string): string {
  return `‹${[...text].length} characters›`;
}
