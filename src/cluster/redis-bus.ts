/**
 * The cluster bus, as actor logic the hub invokes in place of the in-memory one
 * (machines/bus.ts). Publishing writes to the shared log and delivers nothing; every node,
 * this one included, delivers what its log reader returns, in the log's order, numbered
 * by the log. A message that cannot be written comes back as `bus.failed`.
 */
import { fromCallback } from 'xstate';
import type { BusRequest, HubEvent } from '../../machines/events.js';
import type { ClusterNode } from './node.js';

export function redisBus(node: ClusterNode) {
  return fromCallback<BusRequest, { now: () => number }>(({ sendBack, receive }) => {
    let running = true;
    node.deliverTo(
      (event, seq, ts) => {
        if (running) sendBack({ type: 'bus.delivered', event, seq, ts } satisfies HubEvent);
      },
      (seq, epoch, past) => {
        if (running) sendBack({ type: 'bus.reset', seq, epoch, past } satisfies HubEvent);
      },
    );
    receive(({ event }) => {
      void node.publish(event).then((written) => {
        if (!running) return;
        if (written === false) sendBack({ type: 'bus.failed', event, code: 'server_unavailable' } satisfies HubEvent);
        else if (typeof written === 'object')
          sendBack({ type: 'bus.duplicate', event, ...written.duplicateOf } satisfies HubEvent);
      });
    });
    return () => {
      running = false;
    };
  });
}
