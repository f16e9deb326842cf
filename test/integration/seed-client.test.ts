/**
 * SPEC §1: "The seed's example JavaScript client must work unchanged."
 *
 * SEED_CLIENT is the "Example Client (JavaScript)" block of the seed README, byte for byte.
 * It runs as a function body with two globals provided: `WebSocket` from the `ws` package
 * (Node 20 has a global WebSocket only behind --experimental-websocket) and a `console`
 * that records lines. The only rewrite is the port in its URL: it keeps `localhost`, which
 * reaches our 127.0.0.1 listener even where localhost resolves to ::1 first, because Node
 * 20's net.connect tries every address (autoSelectFamily).
 */
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { DEFAULT_WAIT_MS, withTimeout } from '../support/ws-client.js';
import { serverPerTest } from '../support/test-server.js';

const SEED_CLIENT = `const socket = new WebSocket("ws://localhost:8080/ws");

socket.onopen = () => {
  console.log("Connected to the server");

  // Send username
  socket.send(JSON.stringify({ sender: "Alice", text: "" }));
};

socket.onmessage = (event) => {
  const message = JSON.parse(event.data);
  console.log(\`\${message.sender}: \${message.text}\`);
};

socket.onclose = () => {
  console.log("Disconnected from the server");
};
`;

/** A console stand-in: records every logged line and lets a test await one. */
function recordingConsole() {
  const lines: string[] = [];
  const waiters: Array<{ line: string; resolve: () => void }> = [];
  const log = (...args: unknown[]) => {
    const line = args.map(String).join(' ');
    lines.push(line);
    for (const waiter of waiters.filter((w) => w.line === line)) waiter.resolve();
  };
  const sawLine = (line: string): Promise<void> =>
    withTimeout(
      new Promise<void>((resolve) => (lines.includes(line) ? resolve() : waiters.push({ line, resolve }))),
      DEFAULT_WAIT_MS,
      `the seed client to log ${JSON.stringify(line)} (it logged ${JSON.stringify(lines)})`,
    );
  return { console: { log, info: log, warn: log, error: log }, lines, sawLine };
}

function runSeedClient(port: number, fakeConsole: object): void {
  const source = SEED_CLIENT.replace('ws://localhost:8080/ws', `ws://localhost:${port}/ws`);
  expect(source).not.toBe(SEED_CLIENT);
  // The seed's client is a script for a browser page: it runs as written, with our WebSocket and console.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  (new Function('WebSocket', 'console', source) as (ws: typeof WebSocket, log: object) => void)(WebSocket, fakeConsole);
}

describe('the seed README example client, unchanged', () => {
  const start = serverPerTest();

  it('is welcomed, then shows joins and messages as `${sender}: ${text}`, and its disconnect', async () => {
    const server = await start();
    const seed = recordingConsole();
    runSeedClient(server.port, seed.console);

    await seed.sawLine('Connected to the server');
    await seed.sawLine('Server: Welcome, Alice!');

    const bob = await server.register('Bob');
    await seed.sawLine('Server: Bob has joined the chat');
    bob.send({ sender: 'Bob', text: 'Hello, Alice!' });
    await seed.sawLine('Bob: Hello, Alice!');
    bob.close();
    await seed.sawLine('Server: Bob has left the chat');

    await server.close();
    await seed.sawLine('Disconnected from the server');
    expect(seed.lines).toEqual([
      'Connected to the server',
      'Server: Welcome, Alice!',
      'Server: Bob has joined the chat',
      'Bob: Hello, Alice!',
      'Server: Bob has left the chat',
      'Disconnected from the server',
    ]);
  });

  it('makes the second client see the seed client as Alice', async () => {
    const server = await start();
    const seed = recordingConsole();
    const bob = await server.register('Bob');
    runSeedClient(server.port, seed.console);
    await seed.sawLine('Server: Welcome, Alice!');
    expect(await bob.nextFrame()).toEqual({
      type: 'join',
      sender: 'Server',
      text: 'Alice has joined the chat',
      name: 'Alice',
      id: expect.stringMatching(/^\d+$/),
      ts: expect.any(Number),
    });
  });
});
