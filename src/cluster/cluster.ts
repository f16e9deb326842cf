/**
 * Cluster mode's entry point for src/server.ts: join the cluster, then hand the hub its
 * Redis-backed registry and bus through `hubMachine.provide({ actors })`.
 */
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import type { InspectOption } from './availability.js';
import { ClusterNode } from './node.js';
import { redisBus } from './redis-bus.js';
import { redisRegistry } from './redis-registry.js';

export type { ClusterNode };

/**
 * A node that has joined the cluster; a Redis that cannot be reached stops start-up.
 * With `inspect` (src/inspector.ts, inspectOption), its availability actor is inspected too.
 */
export async function joinCluster(
  redisUrl: string,
  leaseMs: number,
  log: Logger,
  options: { inspect?: InspectOption; resumeWindowMs?: number; historySize?: number } = {},
): Promise<ClusterNode> {
  const node = new ClusterNode({
    redisUrl,
    leaseMs,
    log,
    inspect: options.inspect,
    resumeWindowMs: options.resumeWindowMs ?? 0,
    historySize: options.historySize ?? 0,
  });
  try {
    await node.start();
  } catch (err) {
    throw new ConfigError(`REDIS_URL: cannot use ${redactUrl(redisUrl)}: ${(err as Error).message}`);
  }
  return node;
}

/**
 * Waits until the node has delivered the cluster's roster to the hub (whose bus started
 * reading the log), so that the first welcome lists the whole cluster. A node that cannot
 * read it within a lease leaves the cluster, and start-up fails with one line.
 */
export async function rosterDelivered(node: ClusterNode): Promise<void> {
  const limitMs = node.timings.leaseMs;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), limitMs)));
  try {
    if ((await Promise.race([node.synced, late])) !== 'late') return;
  } finally {
    clearTimeout(timer);
  }
  await node.close();
  throw new ConfigError(`REDIS_URL: could not read the chat's roster from Redis within ${limitMs} ms (LEASE_MS)`);
}

/** The hub's registry and bus for this node. */
export function clusterActors(node: ClusterNode) {
  return { registry: redisRegistry(node), bus: redisBus(node) };
}

/** The URL without its password, fit for a message. */
function redactUrl(raw: string): string {
  const url = new URL(raw);
  if (url.password !== '') url.password = '***';
  return url.toString();
}
