/**
 * `npm run bench`: every scenario against the bare-ws reference and this server, one table.
 *
 *   npm run bench                 fan-out (saturation, fixed load), join storm, idle memory
 *   npm run bench -- --json       one JSON line per figure instead of the table
 *   npm run bench -- --large      also the join storm and idle memory at 10,000 clients
 *   npm run bench -- --help       every option
 */
import { fanout } from './fanout.js';
import { joinStorm } from './join-storm.js';
import { LARGE_CLIENTS, readOptions, runBench } from './runner.js';

const argv = process.argv.slice(2);
const scenarios = [fanout, joinStorm()];
if (readOptions(argv).large) scenarios.push(joinStorm(LARGE_CLIENTS));
await runBench(scenarios, argv);
