/**
 * The cluster-wide name registry, as actor logic the hub invokes in place of the in-memory
 * one (src/registry.ts). Same requests, same answers, one round trip to Redis later; and
 * one answer the in-memory registry never gives: `registry.revoked`, for a granted name
 * that an outage took away.
 */
import { fromCallback } from 'xstate';
import type { HubEvent, RegistryRequest } from '../../machines/events.js';
import type { ClusterNode } from './node.js';

export function redisRegistry(node: ClusterNode) {
  return fromCallback<RegistryRequest>(({ sendBack, receive }) => {
    let running = true;
    node.onRevoked((id) => sendBack({ type: 'registry.revoked', id, code: 'name_lost' } satisfies HubEvent));
    receive((request) => {
      switch (request.type) {
        case 'registry.claim':
          void node.claim(request.id, request.name).then((result) => {
            // A name granted after the hub stopped is dropped with the node when it leaves.
            if (!running) return;
            if (result === 'granted')
              sendBack({
                type: 'registry.granted',
                id: request.id,
                name: request.name,
                session: request.session,
              } satisfies HubEvent);
            else
              sendBack({
                type: 'registry.refused',
                id: request.id,
                code: result === 'taken' ? 'name_taken' : 'server_unavailable',
              } satisfies HubEvent);
          });
          return;
        case 'registry.release':
          node.release(request.id);
          return;
        case 'registry.resume':
          sendBack({ type: 'registry.unknown', id: request.id } satisfies HubEvent);
          return;
        case 'registry.detach':
          return;
      }
    });
    return () => {
      running = false;
      node.onRevoked(() => {});
    };
  });
}
