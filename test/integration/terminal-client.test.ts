/**
 * `chat-backend connect`, the terminal client, as a child process (the real command line,
 * test/support/cli.ts) against a real server: it prints what happens one event a line, sends
 * what is typed, and leaves cleanly at the end of input or on SIGINT. Against a server that
 * relays control characters (ours refuses them), it shows them without a terminal acting on them.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { printable } from '../../src/terminal-client.js';
import { cliPerTest, START_MS, type Cli } from '../support/cli.js';
import { TcpProxy } from '../support/cluster.js';
import { serverPerTest } from '../support/test-server.js';
import { withTimeout } from '../support/ws-client.js';

const start = serverPerTest();
const runCli = cliPerTest();

/** Resolves once the CLI has printed `line` as a whole line; bounded. */
function printed(cli: Cli, line: string, timeoutMs = START_MS): Promise<void> {
  const found = new Promise<void>((resolve, reject) => {
    const check = () => {
      if (cli.stdout().split('\n').includes(line)) return resolve();
      if (cli.child.exitCode !== null) return reject(new Error(`the CLI exited first: ${cli.stdout()}${cli.stderr()}`));
      cli.child.stdout!.once('data', () => setImmediate(check));
    };
    check();
  });
  return withTimeout(found, timeoutMs, `the line ${JSON.stringify(line)}`);
}

const exitOf = (cli: Cli) => withTimeout(cli.exited, START_MS, 'the CLI to exit');

describe('chat-backend connect', () => {
  it('prints others’ messages one a line, sends what is typed, and leaves at the end of input', async () => {
    const server = await start();
    const bob = await server.register('Bob');
    const cli = runCli(['connect', server.url, '--name', 'Alice'], {}, { stdin: true });
    await printed(cli, '-- joined as Alice; online: Bob, Alice');
    await bob.framesUntil((frame) => frame.type === 'join' && frame.name === 'Alice');

    bob.send({ text: 'hi\tthere\nsecond line' });
    await printed(cli, 'Bob: hi there ↵ second line');

    cli.child.stdin!.write('hello from a terminal\n\n');
    const [heard] = (await bob.framesUntil((frame) => frame.type === 'message' && frame.sender === 'Alice')).slice(-1);
    expect(heard).toMatchObject({ sender: 'Alice', text: 'hello from a terminal' });
    await printed(cli, 'Alice (you): hello from a terminal');

    // Typed just before the end of input: it goes first, then the clean leave.
    cli.child.stdin!.end('last words\n');
    expect(await exitOf(cli)).toEqual({ code: 0, signal: null });
    const rest = await bob.framesUntil((frame) => frame.type === 'leave');
    expect(rest.map((frame) => [frame.type, frame.text])).toEqual([
      ['message', 'last words'],
      ['leave', 'Alice has left the chat'],
    ]);
    // eslint-disable-next-line no-control-regex -- no control character but the line ends
    expect(cli.stdout()).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(cli.stdout().split('\n').at(-2)).toBe('-- closed');
    expect(cli.stderr()).toBe('');
  });

  // Another server may relay what ours refuses: the client must not pass it to the terminal.
  it('shows the control characters a server relays as visible symbols, and never writes one', async () => {
    const hostile = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(hostile, 'listening');
    hostile.on('connection', (socket) => {
      socket.once('message', () => {
        const ts = Date.now();
        const frames = [
          {
            type: 'welcome',
            sender: 'Server',
            text: 'Welcome, Alice!',
            name: 'Alice',
            users: ['Alice'],
            session: 's',
            epoch: 'e',
            id: '1',
            ts,
          },
          { type: 'join', sender: 'Server', text: 'joined', name: 'Ev\u001b]0;pwned\u0007e', id: '2', ts },
          {
            type: 'message',
            sender: 'Eve',
            text: 'hi \u001b[2J\u0007there\r\nline\u0008 \u009b31m\u007f',
            id: '3',
            ts,
          },
        ];
        for (const frame of frames) socket.send(JSON.stringify(frame));
      });
    });
    try {
      const url = `ws://127.0.0.1:${(hostile.address() as AddressInfo).port}/ws`;
      const cli = runCli(['connect', url, '--name', 'Alice'], {}, { stdin: true });
      await printed(cli, '-> Ev␛]0;pwned␇e joined');
      await printed(cli, 'Eve: hi ␛[2J␇there ↵ line␈ \uFFFD31m␡');
      cli.child.stdin!.end();
      await exitOf(cli);
      // eslint-disable-next-line no-control-regex -- no control character but the line ends
      expect(cli.stdout()).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    } finally {
      for (const socket of hostile.clients) socket.terminate();
      await new Promise((resolve) => hostile.close(resolve));
    }
  });

  it('leaves at once on SIGINT', async () => {
    const server = await start();
    const bob = await server.register('Bob');
    const cli = runCli(['connect', server.url, '--name', 'Alice'], {}, { stdin: true });
    await printed(cli, '-- joined as Alice; online: Bob, Alice');
    cli.child.kill('SIGINT');
    expect(await exitOf(cli)).toEqual({ code: 0, signal: null });
    await bob.framesUntil((frame) => frame.type === 'leave' && frame.name === 'Alice');
  });

  it('comes back after a lost connection: resumes its name, and what was typed meanwhile reaches the others once', async () => {
    const server = await start();
    const bob = await server.register('Bob');
    const proxy = await TcpProxy.start(server.port);
    try {
      const cli = runCli(['connect', `ws://127.0.0.1:${proxy.port}/ws`, '--name', 'Alice'], {}, { stdin: true });
      await printed(cli, '-- joined as Alice; online: Bob, Alice');
      await proxy.cut();
      await printed(cli, '-- reconnecting');
      cli.child.stdin!.write('typed while cut off\n');
      bob.send({ text: 'said meanwhile' });
      await proxy.mend();

      await printed(cli, '-- resumed as Alice');
      await printed(cli, 'Bob: said meanwhile');
      await printed(cli, 'Alice (you): typed while cut off');
      const heard = await bob.framesUntil((frame) => frame.type === 'message' && frame.sender === 'Alice');
      // Nothing of Alice's but the one message: no leave, no second join, no second copy.
      expect(heard.filter((frame) => frame.sender !== undefined)).toMatchObject([
        { type: 'join', name: 'Alice' },
        { type: 'message', sender: 'Alice', text: 'typed while cut off' },
      ]);
      await bob.expectQuiet();
      expect(
        cli
          .stdout()
          .split('\n')
          .filter((line) => line.includes('said meanwhile')),
      ).toHaveLength(1);
      cli.child.stdin!.end();
      expect(await exitOf(cli)).toEqual({ code: 0, signal: null });
    } finally {
      await proxy.cut();
    }
  });

  it('leaves cleanly when whoever reads its output goes away (a closed pipe, `| head -3`)', async () => {
    const server = await start();
    const bob = await server.register('Bob');
    const cli = runCli(['connect', server.url, '--name', 'Alice'], {}, { stdin: true });
    await printed(cli, '-- joined as Alice; online: Bob, Alice');
    await bob.framesUntil((frame) => frame.type === 'join' && frame.name === 'Alice');
    cli.child.stdout!.destroy();
    // Its next line meets the closed pipe.
    bob.send({ text: 'anyone there?' });
    expect(await exitOf(cli)).toEqual({ code: 0, signal: null });
    await bob.framesUntil((frame) => frame.type === 'leave' && frame.name === 'Alice');
    expect(cli.stderr()).toBe('');
  });

  it('says why and exits 1 when the name is taken', async () => {
    const server = await start();
    await server.register('Alice');
    const cli = runCli(['connect', server.url, '--name', 'alice'], {}, { stdin: true });
    await printed(cli, '-- closed: name_taken: Username already taken');
    expect(await exitOf(cli)).toEqual({ code: 1, signal: null });
  });

  it('explains its arguments when they are wrong, and exits 1', async () => {
    const cli = runCli(['connect', 'ws://127.0.0.1:9/ws']);
    expect(await exitOf(cli)).toEqual({ code: 1, signal: null });
    expect(cli.stderr()).toContain('chat-backend connect: give a name with --name');
    expect(cli.stderr()).toContain('Usage: chat-backend connect');
  });
});

describe('printable', () => {
  it('keeps text as it is when it holds no control character', () => {
    expect(printable('Bob: héllo 😀 ␛ \u00a0')).toBe('Bob: héllo 😀 ␛ \u00a0');
  });

  it('turns line breaks into ↵, TAB into a space, C0 and DEL into their pictures, C1 into U+FFFD', () => {
    expect(printable('a\nb\r\nc\td\re\u001bf\u0000g\u007fh\u0085i\u009bj')).toBe('a ↵ b ↵ c d␍e␛f␀g␡h\uFFFDi\uFFFDj');
  });
});
