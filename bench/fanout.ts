/**
 * Fan-out: N registered clients, S of them senders. Run against the reference, then (when
 * redis-server is here) this server as a cluster of two nodes on a private Redis, the
 * clients split between the nodes, then this server alone; each in fresh processes.
 *
 * - Saturation: each sender keeps `window` messages in flight (sent, own echo not yet
 *   back), so the server is never idle. Deliveries/s, server and client CPU per delivery,
 *   latency, and exactly-once in-order delivery checked by every receiver.
 * - Fixed load: the same clients at half the reference's saturation rate, open loop (each
 *   message leaves on schedule whatever the server does): latency p50/p99/p99.9.
 *
 * - Matched load (cluster case): the cluster and the single node at one rate near the
 *   cluster's capacity (see MATCHED_SHARE), to compare their costs at equal rates.
 *
 * The cluster's figures are ratios to the single node's of the same run; its server CPU is
 * that of both nodes and of Redis.
 *
 *   npm run bench -- --only fanout [--no-cluster]
 */
import { clusterUnavailable } from './cluster-target.js';
import { clusterFigures, referenceFigures } from './fanout-figures.js';
import { MATCHED_SHARE, oneProcess, perSec, runOne, twoNodes } from './fanout-run.js';
import { isMain, runBench, type Scenario } from './runner.js';

export const fanout: Scenario = {
  name: 'fanout',
  async run(ctx) {
    const ref = await runOne(ctx, oneProcess('reference'), { fixed: null, matched: null });
    // Half the reference's saturation rate, the same for every server that follows.
    const fixed = perSec(ref.saturation) / 2;
    const unavailable = ctx.options.cluster ? clusterUnavailable() : 'left out (--no-cluster)';
    if (unavailable !== null) {
      ctx.progress(`SKIPPED the cluster case: ${unavailable}`);
      return referenceFigures(ctx, ref, await runOne(ctx, oneProcess('chat'), { fixed, matched: null }));
    }
    // The cluster first: the single node's matched load is the cluster's.
    const clustered = await runOne(ctx, twoNodes, { fixed, matched: (own) => own * MATCHED_SHARE });
    const matched = perSec(clustered.saturation) * MATCHED_SHARE;
    const chat = await runOne(ctx, oneProcess('chat'), { fixed, matched: () => matched });
    return [...referenceFigures(ctx, ref, chat), ...clusterFigures(ctx, chat, clustered)];
  },
};

if (isMain(import.meta.url)) await runBench([fanout], process.argv.slice(2));
