/**
 * One load process of the reconnect storm (driven by bench/reconnect-load.ts): library
 * clients (`connect()` from client/, with `ws`'s WebSocket) that keep every id they show,
 * and senders, library clients too, chatting open loop with `<slot>:<seq>:<µs>` texts. The
 * clients reconnect by themselves after the cut; this process only watches their events.
 */
import { WebSocket } from 'ws';
import { connect, type ChatClient } from '../client/index.js';
import { checkShown } from './reconnect-check.js';
import type { ReconnectCheck, ReconnectCommand, ReconnectReport, StormStatus } from './reconnect-load.js';
import { addProblems, expectedFrom, JOIN_KEY, LEAVE_KEY, noProblems, SeenLog, SEQ_SPAN } from './resume-check.js';
import { answerCommands } from './worker.js';
import { poll } from './poll.js';

type Connect = Extract<ReconnectCommand, { cmd: 'connect' }>;

interface Client {
  index: number;
  /** Its sender slot, or -1 for a client of the storm. */
  slot: number;
  chat: ChatClient;
  shown: SeenLog;
  /** The id of the last event it showed. */
  position: number;
  /** Every state it entered, with when (µs). */
  states: { state: string; us: number }[];
  welcomes: { resumed: boolean; recovered: boolean | undefined; us: number }[];
  gaps: number;
  /** A sender's: messages sent, sends rejected, sends not settled yet, the last own copy's id. */
  seq: number;
  refused: number;
  pending: number;
  ownId: number;
  timer: NodeJS.Timeout | null;
}

const clients: Client[] = [];
const errors: string[] = [];
const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
const nameOf = (c: Pick<Client, 'index' | 'slot'>) => (c.slot >= 0 ? `s${c.slot}` : `r${c.index}`);

function note(client: Client, what: string): void {
  if (errors.length < 20) errors.push(`${nameOf(client)}: ${what}`);
}

/** The key of a sender's text `<slot>:<seq>:<µs>`; NaN for any other text. */
function keyOf(text: string): number {
  const [slot, seq] = text.split(':', 2).map(Number);
  return slot === undefined || seq === undefined ? NaN : slot * SEQ_SPAN + seq;
}

function open(index: number, slot: number, url: string): Client {
  const client: Client = {
    index,
    slot,
    chat: connect(url, nameOf({ index, slot }), { WebSocket }),
    shown: new SeenLog(),
    position: 0,
    states: [],
    welcomes: [],
    gaps: 0,
    seq: 0,
    refused: 0,
    pending: 0,
    ownId: 0,
    timer: null,
  };
  const shown = (id: string, key: number) => {
    client.position = Number(id);
    client.shown.push(client.position, key);
  };
  const { chat } = client;
  chat.on('message', (m) => {
    shown(m.id, keyOf(m.text));
    if (m.own) client.ownId = Math.max(client.ownId, Number(m.id));
  });
  chat.on('join', (p) => shown(p.id, JOIN_KEY));
  chat.on('leave', (p) => shown(p.id, LEAVE_KEY));
  chat.on('gap', () => client.gaps++);
  chat.on('welcome', (w) => client.welcomes.push({ resumed: w.resumed, recovered: w.recovered, us: nowUs() }));
  chat.on('state', ({ state, error }) => {
    client.states.push({ state, us: nowUs() });
    if (state === 'closed') note(client, `closed${error === undefined ? '' : `: ${error.code}`}`);
  });
  chat.on('error', (err) => note(client, `error ${err.code}`));
  return client;
}

/** Registers this process's clients, `concurrency` handshakes at a time; resolves once each knows everyone. */
async function register(command: Connect): Promise<void> {
  let next = 0;
  const one = () => {
    if (next >= command.count) return;
    const index = command.first + next++;
    const slot = command.senders.indexOf(index);
    const client = open(index, slot, slot >= 0 ? command.senderUrl : command.clientUrl);
    clients.push(client);
    const stop = client.chat.on('state', ({ state }) => {
      if (state !== 'online' && state !== 'closed') return;
      stop();
      one();
    });
  };
  for (let i = 0; i < Math.min(command.concurrency, command.count); i++) one();
  const everyone = await poll(
    () =>
      errors.length > 0 ||
      (clients.length === command.count && clients.every((c) => c.chat.users.length >= command.total)),
    120_000,
  );
  if (errors.length > 0) throw new Error(`a client failed to register: ${errors[0]}`);
  if (!everyone) throw new Error('registering took longer than 120 s');
}

/** Open loop: each message leaves at its scheduled time, whatever the server is doing. */
function pace(sender: Client, perSec: number, startUs: number): void {
  const periodUs = 1e6 / perSec;
  const tick = () => {
    while (startUs + sender.seq * periodUs <= nowUs()) {
      sender.seq++;
      sender.pending++;
      sender.chat.send(`${sender.slot}:${sender.seq}:${nowUs()}`).then(
        () => sender.pending--,
        (err: Error & { code?: string }) => {
          sender.pending--;
          sender.refused++;
          note(sender, `send rejected: ${err.code ?? err.message}`);
        },
      );
    }
    sender.timer = setTimeout(tick, Math.max(0, (startUs + sender.seq * periodUs - nowUs()) / 1000));
  };
  sender.timer = setTimeout(tick, Math.max(0, (startUs - nowUs()) / 1000));
}

const storm = () => clients.filter((c) => c.slot < 0);

/** When `client` first left `online` at or after `cutUs`, and when it was online again after that; null: not yet. */
function outage(client: Client, cutUs: number): { leftUs: number; backUs: number | null } | null {
  const left = client.states.findIndex((s) => s.us >= cutUs && s.state !== 'online');
  if (left < 0) return null;
  const back = client.states.slice(left).find((s) => s.state === 'online');
  return { leftUs: client.states[left]!.us, backUs: back?.us ?? null };
}

function status(cutUs: number): StormStatus {
  let left = 0;
  let back = 0;
  for (const client of storm()) {
    const o = outage(client, cutUs);
    if (o === null) continue;
    left++;
    if (o.backUs !== null && client.chat.state === 'online') back++;
  }
  return { left, back };
}

function report(cutUs: number): ReconnectReport {
  const result: ReconnectReport = {
    onlineAgainUs: [],
    outageUs: [],
    stillOffline: 0,
    attempts: 0,
    failedToOpen: 0,
    notWelcomed: 0,
    resumed: 0,
    notRecovered: 0,
    registeredAgain: 0,
    gaps: 0,
    errors,
  };
  for (const client of storm()) {
    result.gaps += client.gaps;
    const since = client.states.filter((s) => s.us >= cutUs);
    since.forEach((s, i) => {
      if (s.state === 'connecting') result.attempts++;
      if (s.state !== 'reconnecting' || i === 0) return;
      if (since[i - 1]!.state === 'connecting') result.failedToOpen++;
      if (since[i - 1]!.state === 'registering') result.notWelcomed++;
    });
    for (const w of client.welcomes.filter((w) => w.us >= cutUs)) {
      if (!w.resumed) result.registeredAgain++;
      else if (w.recovered !== true) result.notRecovered++;
      else result.resumed++;
    }
    const o = outage(client, cutUs);
    if (o === null) continue;
    if (o.backUs === null) result.stillOffline++;
    else {
      result.onlineAgainUs.push(o.backUs);
      result.outageUs.push(o.backUs - o.leftUs);
    }
  }
  return result;
}

function check(command: Extract<ReconnectCommand, { cmd: 'check' }>): ReconnectCheck {
  const expected = expectedFrom({ ids: command.ids, keys: command.keys, length: command.ids.length });
  const verdict: ReconnectCheck = { clients: noProblems(), senders: noProblems(), lostAfterGap: 0 };
  for (const c of clients) {
    const { problems, lostAfterGap } = checkShown(expected, c.shown, command.after, command.upTo, c.gaps, nameOf(c));
    verdict.lostAfterGap += lostAfterGap;
    if (c.slot >= 0) verdict.senders = addProblems(verdict.senders, problems);
    else verdict.clients = addProblems(verdict.clients, problems);
  }
  return verdict;
}

async function handle(command: ReconnectCommand): Promise<unknown> {
  switch (command.cmd) {
    case 'ping':
      return null;
    case 'connect':
      await register(command);
      return null;
    case 'positions':
      return clients.map((c) => c.position);
    case 'pace': {
      const senders = clients.filter((c) => c.slot >= 0);
      const slots = Math.max(1, ...senders.map((s) => s.slot + 1));
      for (const sender of senders) {
        const offsetUs = (sender.slot * 1e6) / command.perSenderPerSec / slots;
        pace(sender, command.perSenderPerSec, command.startUs + offsetUs);
      }
      return null;
    }
    case 'status':
      return status(command.cutUs);
    case 'report':
      return report(command.cutUs);
    case 'stop': {
      const sent: Record<number, { final: number; refused: number }> = {};
      for (const sender of clients.filter((c) => c.slot >= 0)) {
        if (sender.timer !== null) clearTimeout(sender.timer);
        sent[sender.slot] = { final: sender.seq, refused: sender.refused };
      }
      return sent;
    }
    case 'settled': {
      const senders = clients.filter((c) => c.slot >= 0);
      if (!(await poll(() => senders.every((s) => s.pending === 0), command.timeoutMs)))
        throw new Error(`a sender's message was not answered within ${command.timeoutMs / 1000} s`);
      return Math.max(0, ...senders.map((s) => s.ownId));
    }
    case 'catchUp':
      return poll(
        () => clients.every((c) => c.chat.state === 'closed' || c.position >= command.upTo),
        command.timeoutMs,
      );
    case 'sequence': {
      const sender = clients.find((c) => c.slot === 0)!;
      const { ids, keys, length } = sender.shown;
      const from = ids.subarray(0, length).findIndex((id) => id > command.after);
      const start = from < 0 ? length : from;
      return { ids: [...ids.subarray(start, length)], keys: [...keys.subarray(start, length)] };
    }
    case 'check':
      return check(command);
    case 'close':
      // No clean close: 1,000 leaves would keep the server busy while it stops.
      setImmediate(() => process.exit(0));
      return null;
  }
}

answerCommands(handle);
