/**
 * `chat-backend connect ws://HOST:PORT/ws --name Alice`: the chat in a terminal, for
 * operators and demos, built on the client library (client/) with `ws`'s WebSocket.
 *
 * Every event prints as one line: joins, leaves, messages (this client's own marked), gaps,
 * errors and connection states. Each line read from stdin is sent. At the end of stdin the
 * messages still on their way are waited for, then the client leaves cleanly; SIGINT leaves
 * at once. What others wrote is printed with its control characters made visible: a
 * terminal must not act on an ESC or BEL that somebody else chose to send. Our server refuses
 * texts that hold them (PROTOCOL.md), but this client may be pointed at another.
 */
import { createInterface } from 'node:readline';
import { WebSocket } from 'ws';
import { connect, type ChatClient, type ChatError } from '../client/index.js';

export const CONNECT_USAGE = `Usage: chat-backend connect <ws://host:port/ws> --name <name> [--history <count>]

Joins the chat as <name>; prints every join, leave, message, gap and connection state, one
a line, and sends each line typed. Ctrl-D (end of input) sends what is waiting, then leaves;
Ctrl-C leaves at once.
`;

export interface ConnectArgs {
  url: string;
  name: string;
  history?: number;
}

/** Thrown for arguments that cannot be used; its message is one line for stderr. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The arguments after `connect`. */
export function parseConnectArgs(args: string[]): ConnectArgs | 'help' {
  let url: string | undefined;
  let name: string | undefined;
  let history: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--help' || arg === '-h') return 'help';
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = () => {
      const found = inline ?? args[++i];
      if (found === undefined) throw new UsageError(`${flag} needs a value`);
      return found;
    };
    if (flag === '--name') name = value();
    else if (flag === '--history') {
      const raw = value();
      history = Number(raw);
      if (!/^\d+$/.test(raw) || history < 1)
        throw new UsageError(`invalid --history: "${raw}": expected a count from 1`);
    } else if (flag.startsWith('-')) throw new UsageError(`unknown flag ${flag}`);
    else if (url === undefined) url = arg;
    else throw new UsageError(`unexpected argument "${arg}"`);
  }
  if (url === undefined || !/^wss?:\/\//.test(url))
    throw new UsageError('give the address, e.g. ws://127.0.0.1:8080/ws');
  if (name === undefined || name.trim() === '') throw new UsageError('give a name with --name');
  return { url, name, ...(history !== undefined ? { history } : {}) };
}

/**
 * A line as a terminal may be given it: a line break becomes ↵ (one event stays one line),
 * a TAB a space, the other C0 controls and DEL their Unicode control pictures (ESC shows as
 * ␛, BEL as ␇, CR as ␍), and the C1 controls (some terminals read 0x9B as ESC [) U+FFFD.
 * What was sent stays visible, and the terminal acts on none of it.
 */
export function printable(text: string): string {
  return (
    text
      .replace(/\r?\n/g, ' ↵ ')
      .replaceAll('\t', ' ')
      // eslint-disable-next-line no-control-regex -- matching control characters is the point
      .replace(/[\u0000-\u001f\u007f]/g, (c) => String.fromCharCode(c === '\u007f' ? 0x2421 : 0x2400 + c.charCodeAt(0)))
      .replace(/[\u0080-\u009f]/g, '\uFFFD')
  );
}

export interface TerminalIo {
  input: NodeJS.ReadableStream;
  print(line: string): void;
}

/**
 * Runs the chat until it ends; resolves with the exit code: 0 for a clean leave, 1 when the
 * chat refused this client (a taken name, say) or stopped it. `stop` is for SIGINT.
 */
export function runTerminalClient(
  args: ConnectArgs,
  io: TerminalIo,
): { done: Promise<number>; stop(): void; endInput(): void } {
  const chat: ChatClient = connect(args.url, args.name, {
    WebSocket,
    ...(args.history !== undefined ? { history: args.history } : {}),
  });
  const print = (line: string) => io.print(printable(line));
  const waiting = new Set<Promise<unknown>>();

  chat.on('state', ({ state, error }) => print(`-- ${state}${error ? `: ${describe(error)}` : ''}`));
  chat.on('welcome', ({ name, users, resumed }) =>
    print(resumed ? `-- resumed as ${name}` : `-- joined as ${name}; online: ${users.join(', ')}`),
  );
  chat.on('join', ({ name }) => print(`-> ${name} joined`));
  chat.on('leave', ({ name }) => print(`<- ${name} left`));
  chat.on('message', ({ sender, text, own }) => print(`${own ? `${sender} (you)` : sender}: ${text}`));
  chat.on('gap', () => print('!! you may have missed messages'));
  chat.on('error', (error) => print(`!! ${describe(error)}`));

  const lines = createInterface({ input: io.input, terminal: false });
  lines.on('line', (line) => {
    if (line.trim() === '' || chat.state === 'closed') return;
    const sent = chat.send(line).then(
      () => {},
      (error: ChatError) => {
        if (error.code !== 'closed') print(`!! not sent (${describe(error)}): ${line}`);
      },
    );
    waiting.add(sent);
    void sent.finally(() => waiting.delete(sent));
  });

  const done = new Promise<number>((resolve) => {
    chat.on('state', ({ state, error }) => {
      if (state !== 'closed') return;
      lines.close(); // nothing more to send
      resolve(error === undefined ? 0 : 1);
    });
  });
  // End of input: what was typed goes first, then a clean leave.
  lines.once('close', () => void Promise.allSettled([...waiting]).then(() => chat.close()));
  return {
    done,
    stop: () => {
      lines.close();
      chat.close();
    },
    // As at the end of input: what was typed goes first, then the clean leave.
    endInput: () => lines.close(),
  };
}

function describe(error: ChatError): string {
  const reason = error.closeReason ? `, ${error.closeReason}` : '';
  return `${error.code}: ${error.message}${error.closeCode !== undefined ? ` (${error.closeCode}${reason})` : ''}`;
}
