/**
 * `npm run bench`: every scenario against its baseline (the bare-ws reference, a single node,
 * or history's own estimate), one table per comparison.
 *
 *   npm run bench                 fan-out (saturation, fixed load), join storm, idle memory,
 *                                 resume storm, reconnect storm through the client library,
 *                                 the memory of sessions at their bounds, and what a connect,
 *                                 a registration and a /metrics scrape cost as connections grow
 *   npm run bench -- --quick      fewer clients, shorter phases, not recorded: to try it out
 *   npm run bench -- --json       one JSON line per figure instead of the table
 *   npm run bench -- --large      also the join storm and idle memory at 10,000 clients
 *   npm run bench -- --only ab --base 8fca4f1   this server's fan-out against that commit's
 *   npm run bench -- --help       every option
 */
import { abComparison } from './ab.js';
import { fanout } from './fanout.js';
import { flatCosts } from './flat-costs.js';
import { joinStorm } from './join-storm.js';
import { memoryBounds } from './memory-bounds.js';
import { reconnectStorm } from './reconnect-storm.js';
import { resumeStorm } from './resume-storm.js';
import { LARGE_CLIENTS, readOptions, runBench } from './runner.js';

const argv = process.argv.slice(2);
const options = readOptions(argv);
const scenarios = [fanout, joinStorm(), resumeStorm, reconnectStorm, memoryBounds, flatCosts];
if (options.large) scenarios.push(joinStorm(LARGE_CLIENTS));
if (options.base !== null) scenarios.push(abComparison);
await runBench(scenarios, argv);
