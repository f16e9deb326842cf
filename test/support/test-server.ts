/**
 * A chat server on 127.0.0.1 for one test, with ws-client.ts's sockets to reach it.
 *
 *   const start = serverPerTest();             // closes the servers in afterEach
 *   const server = await start({ rateBurst: 3 });
 *   const alice = await server.register('Alice');
 */
import { afterEach } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/log.js';
import { startServer, type ChatServer } from '../../src/server.js';
import { DEFAULT_WAIT_MS, TestSocket, type OpenOptions } from './ws-client.js';

/** Asks for `name` and waits for the welcome (consumed); anything else fails. */
export async function claim(socket: TestSocket, name: string): Promise<void> {
  socket.send({ sender: name, text: '' });
  const frame = await socket.nextFrame(DEFAULT_WAIT_MS, `the welcome for ${name}`);
  if (frame.type !== 'welcome') throw new Error(`${name} was not welcomed: ${JSON.stringify(frame)}`);
}

/**
 * Alice and Bob registered on the server at `port` (one started some other way, such as
 * the command line), Alice having heard Bob join: two clients in the middle of a chat.
 */
export async function aliceAndBob(port: number): Promise<[TestSocket, TestSocket]> {
  const url = `ws://127.0.0.1:${port}/ws`;
  const alice = await TestSocket.open(url, { label: 'Alice' });
  await claim(alice, 'Alice');
  const bob = await TestSocket.open(url, { label: 'Bob' });
  await claim(bob, 'Bob');
  const joined = await alice.nextFrame(DEFAULT_WAIT_MS, "Bob's join");
  if (joined.type !== 'join' || joined.name !== 'Bob') throw new Error(`not Bob's join: ${JSON.stringify(joined)}`);
  return [alice, bob];
}

export interface TestServer {
  readonly port: number;
  /** ws://127.0.0.1:PORT/ws */
  readonly url: string;
  readonly config: Config;
  /** The Stately inspector's bridge page when `inspect` is on; else null. */
  readonly inspectorUrl: string | null;
  connect(options?: OpenOptions): Promise<TestSocket>;
  /** Connects, asks for `name` and returns the socket once welcomed (the welcome is consumed). */
  register(name: string, options?: OpenOptions): Promise<TestSocket>;
  /** GET on the HTTP side of the same port. */
  get(path: string): Promise<Response>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** Where the server logs; nowhere by default. */
  log?: Logger;
}

/** Starts a server on 127.0.0.1, an ephemeral port, logging nothing unless given a `log`; `overrides` win. */
export async function startTestServer(
  overrides: Partial<Config> = {},
  options: TestServerOptions = {},
): Promise<TestServer> {
  const config: Config = { ...loadConfig([], {}), port: 0, host: '127.0.0.1', logLevel: 'silent', ...overrides };
  const server: ChatServer = await startServer(config, { log: options.log ?? createLogger('silent') });
  // In cluster mode: until the node serves, or turns out to be waiting for Redis, as tests expect.
  await server.started.catch(async (err: unknown) => {
    await server.close();
    throw err;
  });
  const url = `ws://127.0.0.1:${server.port}/ws`;
  const sockets: TestSocket[] = [];
  const connect = async (options: OpenOptions = {}) => {
    const socket = await TestSocket.open(url, options);
    sockets.push(socket);
    return socket;
  };
  return {
    port: server.port,
    url,
    config,
    inspectorUrl: server.inspectorUrl,
    connect,
    async register(name, options = {}) {
      const socket = await connect({ label: name, ...options });
      await claim(socket, name);
      return socket;
    },
    get: (path) => fetch(`http://127.0.0.1:${server.port}${path}`, { signal: AbortSignal.timeout(DEFAULT_WAIT_MS) }),
    async close() {
      await server.close();
      for (const socket of sockets) socket.terminate();
    },
  };
}

/** Returns a starter whose servers are all closed after each test. */
export function serverPerTest(): (overrides?: Partial<Config>, options?: TestServerOptions) => Promise<TestServer> {
  const started: TestServer[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((server) => server.close()));
  });
  return async (overrides, options) => {
    const server = await startTestServer(overrides, options);
    started.push(server);
    return server;
  };
}
