/**
 * `--inspect`: the hub and every connection actor reported to the Stately inspector
 * through `@statelyai/inspect`'s WebSocket inspector, which connects to our relay on
 * INSPECT_HOST:INSPECT_PORT (src/inspector-relay.ts). Off, nothing is started and the hub
 * gets no `inspect` option at all, so inspection costs nothing.
 *
 * Chat text never leaves the process, as in the logs: an event's `text` (a client frame, a
 * message on its way to the bus) is replaced by its length before it is sent.
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
  const inspector = createWebSocketInspector({ url: relay.sourceUrl, sanitizeEvent: redactText });
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
    inspect: inspector.inspect,
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

/** `text` in an event, or in the chat event it carries, becomes its length in code points. */
export function redactText(event: AnyEventObject): AnyEventObject {
  let redacted = event;
  if (typeof event.text === 'string') redacted = { ...redacted, text: lengthOf(event.text) };
  const inner: unknown = event.event;
  if (typeof inner === 'object' && inner !== null && typeof (inner as { text?: unknown }).text === 'string') {
    redacted = { ...redacted, event: { ...inner, text: lengthOf((inner as { text: string }).text) } };
  }
  return redacted;
}

function lengthOf(text: string): string {
  return `‹${[...text].length} characters›`;
}
