/**
 * The cluster-wide registry of names and sessions, as actor logic the hub invokes in place
 * of the in-memory one (machines/registry.ts). Same requests, same answers, one round trip
 * to Redis later; and answers the in-memory registry never gives: `registry.revoked`, for
 * a granted name that an outage took away, and `registry.moved`, for a session of this
 * node that a connection on another node resumed.
 */
import { fromCallback } from 'xstate';
import type { HubEvent, RegistryRequest } from '../../machines/events.js';
import type { ClusterNode } from './node.js';

export function redisRegistry(node: ClusterNode) {
  return fromCallback<RegistryRequest>(({ sendBack, receive }) => {
    let running = true;
    node.onRevoked((id) => sendBack({ type: 'registry.revoked', id, code: 'name_lost' } satisfies HubEvent));
    node.onMovedAway((session) => running && sendBack({ type: 'registry.moved', session } satisfies HubEvent));
    receive((request) => {
      switch (request.type) {
        case 'registry.claim': {
          const { id, name, session, hash } = request;
          void node.claim(id, name, session, hash).then((result) => {
            // A name granted after the hub stopped is dropped with the node when it leaves.
            if (!running) return;
            if (result === 'granted') sendBack({ type: 'registry.granted', id, name, session } satisfies HubEvent);
            else
              sendBack({
                type: 'registry.refused',
                id,
                code: result === 'taken' ? 'name_taken' : 'server_unavailable',
              } satisfies HubEvent);
          });
          return;
        }
        case 'registry.resume': {
          const { id, hash, since } = request;
          void node.resume(id, hash, since).then((result) => {
            if (!running) return;
            if (typeof result === 'object') sendBack({ type: 'registry.resumed', id, ...result } satisfies HubEvent);
            else
              sendBack({
                type: 'registry.unknown',
                id,
                code: result === 'unknown' ? 'session_expired' : 'server_unavailable',
              } satisfies HubEvent);
          });
          return;
        }
        case 'registry.detach':
          node.detach(request.id);
          return;
        case 'registry.release':
          node.release(request.id);
          return;
      }
    });
    return () => {
      running = false;
      node.onRevoked(() => {});
      node.onMovedAway(() => {});
    };
  });
}
