/**
 * Cluster mode's entry point for src/server.ts: a node for this server, whose Redis-backed
 * registry and bus the hub gets through `hubMachine.provide({ actors })`, then the node's
 * start once the hub is reading its log.
 */
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import type { InspectOption } from './availability.js';
import { ClusterNode } from './node.js';
import { redisBus } from './redis-bus.js';
import { redisRegistry } from './redis-registry.js';
import type { LogLimits } from './store.js';

export type { ClusterNode, LogLimits };

/** LOG_MAX_BYTES and LOG_MAX_AGE_MS as src/settings.ts defaults them: 64 MiB, a day. */
export const DEFAULT_LOG_LIMITS: LogLimits = { maxBytes: 64 * 1024 * 1024, maxAgeMs: 24 * 60 * 60 * 1000 };

/**
 * This server's node, not started: it does not reach for Redis until startCluster.
 * With `inspect` (src/inspector.ts, inspectOption), its availability actor is inspected too.
 */
export function clusterNode(
  redisUrl: string,
  leaseMs: number,
  log: Logger,
  options: { inspect?: InspectOption; resumeWindowMs?: number; historySize?: number; logLimits?: LogLimits } = {},
): ClusterNode {
  return new ClusterNode({
    redisUrl,
    leaseMs,
    log,
    inspect: options.inspect,
    resumeWindowMs: options.resumeWindowMs ?? 0,
    historySize: options.historySize ?? 0,
    logLimits: options.logLimits ?? DEFAULT_LOG_LIMITS,
  });
}

/**
 * Starts the node; its hub must be running already (its bus reads the log). Resolves
 * `serving` once the node serves: joined, a grace waited out, the cluster's roster handed
 * to the hub, so that the first welcome lists the whole cluster. Resolves `waiting` as soon
 * as Redis turns out to be out of reach: the node keeps trying, claims get
 * server_unavailable meanwhile, and it serves once it has joined. A Redis that refuses the
 * node (src/cluster/refusal.ts) throws a ConfigError naming REDIS_URL.
 */
export async function startCluster(node: ClusterNode): Promise<'serving' | 'waiting'> {
  try {
    return await node.start();
  } catch (err) {
    throw refusalError(node, err);
  }
}

/** Resolves if Redis refuses the node before it has joined, after start: the server cannot go on. */
export function whenRefused(node: ClusterNode): Promise<ConfigError> {
  return node.refused.then((err) => refusalError(node, err));
}

/** The hub's registry and bus for this node. */
export function clusterActors(node: ClusterNode) {
  return { registry: redisRegistry(node), bus: redisBus(node) };
}

function refusalError(node: ClusterNode, err: unknown): ConfigError {
  return new ConfigError(`REDIS_URL: cannot use ${node.redactedUrl}: ${(err as Error).message}`);
}
