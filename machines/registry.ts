/**
 * The registry of online names and the sessions that hold them, as actor logic invoked by
 * the hub.
 *
 * This one keeps them in memory for a single process. It answers each request at once,
 * in the order requests arrive; a cluster registry answers the same requests later, after
 * a round trip to a shared store. The hub cannot tell the two apart.
 *
 * A name is held by a session, which a connection claimed and others may resume: the
 * holder moves from connection to connection, and only its session can give it back.
 */
import { fromCallback } from 'xstate';
import type { HubEvent, RegistryRequest } from './events.js';
import { foldName } from '../src/protocol.js';

interface Holder {
  /** The connection that holds it now (or last did). */
  id: string;
  name: string;
  session: string;
  hash: string;
}

export const memoryRegistry = fromCallback<RegistryRequest>(({ sendBack, receive }) => {
  /** Folded name -> its holder. */
  const holders = new Map<string, Holder>();
  /** Secret hash -> folded name: how a resume finds its session. */
  const byHash = new Map<string, string>();

  receive((request) => {
    switch (request.type) {
      case 'registry.claim': {
        const key = foldName(request.name);
        if (holders.has(key)) {
          sendBack({ type: 'registry.refused', id: request.id, code: 'name_taken' } satisfies HubEvent);
          return;
        }
        const { id, name, session, hash } = request;
        holders.set(key, { id, name, session, hash });
        byHash.set(hash, key);
        sendBack({ type: 'registry.granted', id, name, session } satisfies HubEvent);
        return;
      }
      case 'registry.resume': {
        const key = byHash.get(request.hash);
        const holder = key === undefined ? undefined : holders.get(key);
        if (holder === undefined) {
          sendBack({ type: 'registry.unknown', id: request.id, code: 'session_expired' } satisfies HubEvent);
          return;
        }
        const previous = holder.id;
        holder.id = request.id;
        sendBack({
          type: 'registry.resumed',
          id: request.id,
          session: holder.session,
          name: holder.name,
          previous,
        } satisfies HubEvent);
        return;
      }
      case 'registry.detach':
        // One process: the hub's session actor keeps the window; nothing outlives the process.
        return;
      case 'registry.release': {
        // Only the holding session frees a name: a late release must not free someone else's claim.
        const key = foldName(request.name);
        const holder = holders.get(key);
        if (holder?.session !== request.session) return;
        holders.delete(key);
        byHash.delete(holder.hash);
        return;
      }
    }
  });
});
