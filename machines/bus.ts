/**
 * The chat bus: puts every join, message and leave into one total order and numbers it.
 *
 * In one process the order is simply the order of publication, so this bus hands each
 * event straight back with the next sequence number. A cluster bus (a shared log) hands
 * events back in the log's order instead; the hub delivers whatever comes back, in order.
 */
import { fromCallback } from 'xstate';
import type { BusRequest, HubEvent } from './events.js';

export const memoryBus = fromCallback<BusRequest>(({ sendBack, receive }) => {
  let seq = 0;
  receive((request) => {
    seq += 1;
    sendBack({ type: 'bus.delivered', event: request.event, seq } satisfies HubEvent);
  });
});
