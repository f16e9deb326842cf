/**
 * The chat bus: puts every join, message and leave into one total order and numbers it.
 *
 * In one process the order is simply the order of publication, so this bus hands each
 * event straight back with the next sequence number, stamped with the hub's clock (a
 * message keeps the time the server received it). A cluster bus (a shared log) hands
 * events back in the log's order instead; the hub delivers whatever comes back, in order.
 */
import { fromCallback } from 'xstate';
import type { BusRequest, HubEvent } from './events.js';

export const memoryBus = fromCallback<BusRequest, { now: () => number }>(({ sendBack, receive, input }) => {
  let seq = 0;
  receive(({ event }) => {
    seq += 1;
    const ts = event.type === 'message' ? event.ts : input.now();
    sendBack({ type: 'bus.delivered', event, seq, ts } satisfies HubEvent);
  });
});
