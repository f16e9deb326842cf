/**
 * Cluster nodes for the suites that drive them without a server: started on a Redis that
 * answers, and serving before the test goes on.
 *
 *   const node = await joinCluster(redis.url, 1_000);            // no hub: its log goes nowhere
 *   const nodes = [a, b].map(() => clusterNode(url, LEASE_MS, silent));
 *   const chat = createChat({ machines: nodes.map((n) => hubMachine.provide({ actors: clusterActors(n) })) });
 *   await Promise.all(nodes.map(serving));                         // hubs first: they take the roster
 */
import { clusterNode, startCluster, type ClusterNode } from '../../src/cluster/cluster.js';
import type { InspectOption } from '../../src/cluster/availability.js';
import { createLogger, type Logger } from '../../src/log.js';

/** Starts `node` (its hub, if any, already running) and fails unless it serves. */
export async function serving(node: ClusterNode): Promise<ClusterNode> {
  const outcome = await startCluster(node);
  if (outcome !== 'serving') {
    await node.close();
    throw new Error(`the node did not join the cluster at ${node.redactedUrl}: ${outcome}`);
  }
  return node;
}

/**
 * A node without a hub, started and serving. A node serves once its roster has been
 * delivered; with no hub to take it, it is delivered to nothing, as is the rest of its log.
 */
export async function joinCluster(
  url: string,
  leaseMs: number,
  log: Logger = createLogger('silent'),
  options: { inspect?: InspectOption } = {},
): Promise<ClusterNode> {
  const node = clusterNode(url, leaseMs, log, options);
  const nowhere = () => {};
  node.deliverTo(nowhere, nowhere);
  return serving(node);
}
