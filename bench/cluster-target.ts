/**
 * The cluster case's server side: a private redis-server and chat nodes sharing it, each
 * node the same process the single-node case runs (bench/chat-server.ts) with REDIS_URL
 * set. Otherwise the same settings as the single node: the defaults, the lease included,
 * unless the caller's environment sets them.
 */
import { openCluster, RedisProcess, redisServerBinary } from '../test/support/redis-process.js';
import { Target, type Servers, type TargetOptions } from './target.js';

export const CLUSTER_NODES = 2;

/** Why the cluster case cannot run on this machine, or null when it can. */
export function clusterUnavailable(): string | null {
  return redisServerBinary === null
    ? 'redis-server not found (apt-get install redis-server, or set REDIS_SERVER)'
    : null;
}

export class ClusterTarget implements Servers {
  readonly name = 'cluster';

  private constructor(
    private readonly redis: RedisProcess,
    private readonly nodes: Target[],
  ) {}

  /**
   * Starts Redis, opens the cluster (a first node on an empty Redis waits out a lease, see
   * openCluster) and then the nodes; each is ready once it has read the cluster's roster.
   * `started` hears of every process as it starts, so that a failed start leaves none behind.
   */
  static async start(options: TargetOptions, started: (servers: { kill(): void }) => void): Promise<ClusterTarget> {
    const redis = await RedisProcess.start();
    started(redis);
    await openCluster(redis.url);
    const nodes: Target[] = [];
    for (let i = 0; i < CLUSTER_NODES; i++) {
      const node = await Target.start('chat', {
        ...options,
        env: { ...options.env, REDIS_URL: redis.url },
        profileName: `cluster-node-${i + 1}`,
      });
      started(node);
      nodes.push(node);
    }
    return new ClusterTarget(redis, nodes);
  }

  get urls(): string[] {
    return this.nodes.map((node) => node.url);
  }

  get redisPids(): number[] {
    return this.redis.pid === null ? [] : [this.redis.pid];
  }

  get pids(): number[] {
    return [...this.nodes.map((node) => node.pid), ...this.redisPids];
  }

  /** Nodes first: leaving the cluster writes their users' leaves to Redis. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
    await this.redis.stop();
  }

  /** Kills node `index` with SIGKILL (see Target.crash); the others and Redis go on. */
  async crash(index: number): Promise<void> {
    await this.nodes[index]!.crash();
  }

  kill(): void {
    for (const node of this.nodes) node.kill();
    this.redis.kill();
  }
}
