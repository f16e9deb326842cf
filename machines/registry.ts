/**
 * The registry of online names, as actor logic invoked by the hub.
 *
 * This one keeps names in memory for a single process. It answers each claim at once,
 * in the order claims arrive; a cluster registry answers the same requests later, after a
 * round trip to a shared store. The hub cannot tell the two apart.
 */
import { fromCallback } from 'xstate';
import type { HubEvent, RegistryRequest } from './events.js';
import { foldName } from '../src/protocol.js';

export const memoryRegistry = fromCallback<RegistryRequest>(({ sendBack, receive }) => {
  /** Folded name -> the name as its owner chose it, with the owning connection. */
  const owners = new Map<string, { id: string; name: string }>();

  receive((request) => {
    const key = foldName(request.name);
    switch (request.type) {
      case 'registry.claim': {
        if (owners.has(key)) {
          sendBack({ type: 'registry.refused', id: request.id, code: 'name_taken' } satisfies HubEvent);
          return;
        }
        owners.set(key, { id: request.id, name: request.name });
        sendBack({ type: 'registry.granted', id: request.id, name: request.name } satisfies HubEvent);
        return;
      }
      case 'registry.release':
        // Only the owner frees a name: a late release must not free someone else's claim.
        if (owners.get(key)?.id === request.id) owners.delete(key);
        return;
    }
  });
});
