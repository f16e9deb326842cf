/**
 * This server, as the bench runs it: `startServer` in its own process with the settings
 * from the environment bench/target.ts passes (rate limit off, room for every client),
 * logging at the production level to stdout, which the bench discards.
 */
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/server.js';
import { obeyParent, reportReady } from './server-control.js';

const config = { ...loadConfig([], process.env), host: '127.0.0.1', port: 0 };
const server = await startServer(config);
await server.started; // in cluster mode: once the node serves
obeyParent(() => server.close());
reportReady(server.port);
