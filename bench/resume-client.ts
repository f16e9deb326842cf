/**
 * One load process of the resume storm (driven by bench/resume-load.ts): clients that
 * register, keep their session, position and every id they process; on `drop` they lose
 * their connections without a close frame and resume at once, each with its session, epoch
 * and `since` = the last id it processed. Senders (`<slot>:<seq>:<µs>` texts, open loop)
 * are never dropped; what they process is the sequence the others are checked against.
 */
import type { CheckReport, ResumeReport, StormCommand } from './resume-load.js';
import {
  addProblems,
  checkAgainst,
  expectedFrom,
  JOIN_KEY,
  LEAVE_KEY,
  noProblems,
  SeenLog,
  SEQ_SPAN,
} from './resume-check.js';
import { WireClient } from './wire-client.js';
import { answerCommands } from './worker.js';
import { poll } from './poll.js';

type Connect = Extract<StormCommand, { cmd: 'connect' }>;

interface Client {
  index: number;
  slot: number;
  node: number;
  resumeNode: number;
  socket: WireClient | null;
  state: 'registering' | 'live' | 'resuming' | 'resumed' | 'failed';
  secret: string;
  epoch: string;
  /** The id of the last join, message or leave it processed (or of its own join). */
  position: number;
  processed: SeenLog;
  known: number;
  resumeStartUs: number;
  resumedUs: number;
  since: number;
  recovered: boolean | null;
  replayed: number;
  /** A sender's own copies so far, and the id of the last. */
  echoes: number;
  echoId: number;
  seq: number;
  timer: NodeJS.Timeout | null;
  /** A sender's messages answered with server_unavailable: never broadcast, and it was told. */
  refused: number;
  /** The frame that resumes it, sent again when the answer is server_unavailable. */
  resumeFrame: string;
  retries: number;
}

/** A resume answered with server_unavailable is sent again this much later, this many times at most. */
const RETRY_AFTER_MS = 100;
const MAX_RETRIES = 50;

const clients: Client[] = [];
let setup: Connect | null = null;
let total = 0;
let unexpectedFrames = 0;
const failures: string[] = [];
const SERVER_UNAVAILABLE = '"code":"server_unavailable"';
let droppedUs = 0;

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
const nameOf = (c: Client) => (c.slot >= 0 ? `s${c.slot}` : `r${c.index}`);

function readInt(s: string, at: number): [number, number] {
  let value = 0;
  let i = at;
  for (; i < s.length; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    value = value * 10 + d;
  }
  return [value, i];
}

const MESSAGE_PREFIX = '{"type":"message"';
const REPLAY_SUFFIX = ',"replay":true}';

function onFrame(client: Client, s: string): void {
  if (s.startsWith(MESSAGE_PREFIX)) {
    const [slot, afterSlot] = readInt(s, s.indexOf('"text":"') + 8);
    const [seq] = readInt(s, afterSlot + 1);
    const [id] = readInt(s, s.indexOf('"id":"') + 6);
    if (s.endsWith(REPLAY_SUFFIX)) client.replayed++;
    processedOne(client, id, slot * SEQ_SPAN + seq);
    if (slot === client.slot) {
      client.echoes++;
      client.echoId = id;
    }
    return;
  }
  const frame = JSON.parse(s) as { type: string; id?: string; code?: string; users?: string[] } & Record<
    string,
    unknown
  >;
  if (frame.type === 'join' || frame.type === 'leave') {
    if (frame.replay === true) client.replayed++;
    processedOne(client, Number(frame.id), frame.type === 'join' ? JOIN_KEY : LEAVE_KEY);
    if (frame.type === 'join') client.known++;
  } else if (frame.type === 'welcome' && frame.resumed === true) {
    client.state = 'resumed';
    client.resumedUs = nowUs();
    client.recovered = frame.recovered === true;
  } else if (frame.type === 'welcome') {
    client.secret = String(frame.session);
    client.epoch = String(frame.epoch);
    // Its own join's id: the first position it can resume from.
    if (frame.id !== undefined) client.position = Number(frame.id);
    client.known += frame.users?.length ?? 0;
    client.state = 'live';
  } else if (s.includes(SERVER_UNAVAILABLE)) refusedOne(client, s);
  else {
    unexpectedFrames++;
    if (client.state === 'resuming') fail(client, `answered ${s.slice(0, 120)}`);
  }
}

/**
 * Cluster mode with Redis out of reach (or a node that thinks so): a message is not sent,
 * a resume not made, and the client is told. A sender counts its message as not sent; a
 * resume is tried again shortly, as a client would.
 */
function refusedOne(client: Client, s: string): void {
  if (client.state === 'live' && client.slot >= 0) client.refused++;
  else if (client.state === 'resuming' && client.retries < MAX_RETRIES) {
    client.retries++;
    const socket = client.socket;
    setTimeout(() => {
      if (client.socket === socket && client.state === 'resuming') socket?.send(client.resumeFrame);
    }, RETRY_AFTER_MS);
  } else {
    unexpectedFrames++;
    fail(client, `answered ${s.slice(0, 120)}${client.retries > 0 ? ` after ${client.retries} retries` : ''}`);
  }
}

function processedOne(client: Client, id: number, key: number): void {
  client.processed.push(id, key);
  client.position = id;
}

function fail(client: Client, why: string): void {
  client.state = 'failed';
  if (failures.length < 5) failures.push(`${nameOf(client)} (since ${client.since}): ${why}`);
}

/**
 * Opens `client`'s socket to `url` and sends `first` once it is open; `settled` runs once,
 * when it opened or failed to, so that the next handshake can start.
 */
function open(client: Client, url: string, first: () => string, settled: () => void): void {
  const address = setup!.localAddresses;
  let opened = false;
  const socket: WireClient = new WireClient(
    url,
    {
      open: () => {
        opened = true;
        socket.send(first());
        settled();
      },
      frame: (text) => onFrame(client, text),
      close: (err) => {
        if (!opened) settled();
        // A socket this bench dropped on purpose says nothing.
        if (client.socket !== socket) return;
        unexpectedFrames++;
        if (client.state !== 'failed') fail(client, `closed${err === null ? '' : `: ${err.message}`}`);
      },
    },
    address.length === 0 ? undefined : address[client.index % address.length],
  );
  client.socket = socket;
}

/** Runs `start(i)` for each of `count` items, at most `concurrency` unfinished at once. */
function throttled(count: number, concurrency: number, start: (i: number, done: () => void) => void): void {
  let next = 0;
  const one = () => {
    if (next < count) start(next++, one);
  };
  for (let i = 0; i < Math.min(concurrency, count); i++) one();
}

/** Registers every client of this process; resolves once each has seen every join. */
async function connect(command: Connect): Promise<void> {
  setup = command;
  total = command.total;
  const nodes = command.urls.length;
  for (let i = 0; i < command.count; i++) {
    const index = command.first + i;
    clients.push({
      index,
      slot: command.senders.indexOf(index),
      node: command.node,
      resumeNode: command.switchNodes && index % 2 === 1 ? (command.node + 1) % nodes : command.node,
      socket: null,
      state: 'registering',
      secret: '',
      epoch: '',
      position: 0,
      processed: new SeenLog(),
      known: 0,
      resumeStartUs: 0,
      resumedUs: 0,
      since: 0,
      recovered: null,
      replayed: 0,
      echoes: 0,
      echoId: 0,
      seq: 0,
      timer: null,
      refused: 0,
      resumeFrame: '',
      retries: 0,
    });
  }
  const url = command.urls[command.node]!;
  throttled(clients.length, command.concurrency, (i, done) => {
    const client = clients[i]!;
    open(client, url, () => JSON.stringify({ sender: nameOf(client), text: '' }), done);
  });
  const failed = () => clients.some((c) => c.state === 'failed');
  const registered = await poll(() => failed() || clients.every((c) => c.known >= total), 120_000);
  if (failed()) throw new Error(`a client failed to register: ${failures[0]}`);
  if (!registered) throw new Error('registering took longer than 120 s');
}

/** Open loop: each message leaves at its scheduled time, whatever the server is doing. */
function pace(sender: Client, perSec: number, startUs: number): void {
  const periodUs = 1e6 / perSec;
  const tick = () => {
    while (startUs + sender.seq * periodUs <= nowUs()) {
      sender.seq++;
      sender.socket!.send(`{"text":"${sender.slot}:${sender.seq}:${nowUs()}"}`);
    }
    sender.timer = setTimeout(tick, Math.max(0, (startUs + sender.seq * periodUs - nowUs()) / 1000));
  };
  sender.timer = setTimeout(tick, Math.max(0, (startUs - nowUs()) / 1000));
}

/** Every dropped client at once (no close frame), then each resumes, `concurrency` at a time. */
function drop(): void {
  const dropped = clients.filter((c) => c.slot < 0);
  droppedUs = nowUs();
  for (const client of dropped) {
    const old = client.socket!;
    client.socket = null;
    client.state = 'resuming';
    old.destroy();
  }
  throttled(dropped.length, setup!.concurrency, (i, done) => {
    const client = dropped[i]!;
    client.since = client.position;
    client.resumeStartUs = nowUs();
    const { secret: session, epoch, since } = client;
    client.resumeFrame = JSON.stringify({ sender: nameOf(client), text: '', session, epoch, since: String(since) });
    open(client, setup!.urls[client.resumeNode]!, () => client.resumeFrame, done);
  });
}

function resumeReport(): ResumeReport {
  const dropped = clients.filter((c) => c.slot < 0);
  const resumed = dropped.filter((c) => c.state === 'resumed');
  return {
    droppedUs,
    resumed: resumed.length,
    failed: dropped.length - resumed.length,
    failures: [...failures],
    lastResumedUs: Math.max(0, ...resumed.map((c) => c.resumedUs)),
    latenciesUs: resumed.map((c) => c.resumedUs - c.resumeStartUs),
    notRecovered: resumed.filter((c) => c.recovered !== true).length,
    replayed: resumed.reduce((sum, c) => sum + c.replayed, 0),
    movedNodes: resumed.filter((c) => c.resumeNode !== c.node).length,
    retries: dropped.reduce((sum, c) => sum + c.retries, 0),
  };
}

function check(command: Extract<StormCommand, { cmd: 'check' }>): CheckReport {
  const expected = expectedFrom({ ids: command.ids, keys: command.keys, length: command.ids.length });
  let dropped = noProblems();
  let senders = noProblems();
  let unchecked = 0;
  for (const c of clients) {
    if (c.slot >= 0) {
      senders = addProblems(senders, checkAgainst(expected, c.processed, command.after, command.upTo, nameOf(c)));
    } else if (c.state !== 'resumed' || c.recovered !== true) unchecked++;
    else {
      const who = `${nameOf(c)} (registered on node ${c.node + 1}, resumed on node ${c.resumeNode + 1} with since=${c.since}, ${c.replayed} replayed)`;
      dropped = addProblems(dropped, checkAgainst(expected, c.processed, command.after, command.upTo, who));
    }
  }
  return { dropped, senders, unchecked, unexpectedFrames };
}

async function handle(command: StormCommand): Promise<unknown> {
  switch (command.cmd) {
    case 'ping':
      return null;
    case 'connect':
      await connect(command);
      return null;
    case 'positions':
      return clients.map((c) => c.position);
    case 'pace':
      for (const sender of clients.filter((c) => c.slot >= 0)) {
        const offsetUs = (sender.slot * 1e6) / command.perSenderPerSec / setup!.senders.length;
        pace(sender, command.perSenderPerSec, command.startUs + offsetUs);
      }
      return null;
    case 'drop':
      drop();
      return null;
    case 'awaitResumed': {
      const dropped = clients.filter((c) => c.slot < 0);
      await poll(() => dropped.every((c) => c.state === 'resumed' || c.state === 'failed'), command.timeoutMs);
      for (const c of dropped) if (c.state === 'resuming') fail(c, `no answer in ${command.timeoutMs / 1000} s`);
      return resumeReport();
    }
    case 'stop': {
      const sent: Record<number, { final: number; refused: number }> = {};
      for (const sender of clients.filter((c) => c.slot >= 0)) {
        if (sender.timer !== null) clearTimeout(sender.timer);
        sent[sender.slot] = { final: sender.seq, refused: sender.refused };
      }
      return sent;
    }
    case 'echoes': {
      const senders = clients.filter((c) => c.slot >= 0);
      // Every message sent came back, or was refused.
      const done = () => senders.every((s) => s.echoes + s.refused >= command.finals[s.slot]!);
      if (!(await poll(done, command.timeoutMs))) throw new Error('a sender never got its last message back');
      return Math.max(0, ...senders.map((s) => s.echoId));
    }
    case 'catchUp':
      return poll(() => clients.every((c) => c.state === 'failed' || c.position >= command.upTo), command.timeoutMs);
    case 'sequence': {
      const sender = clients.find((c) => c.slot === 0)!;
      const { ids, keys, length } = sender.processed;
      const from = ids.subarray(0, length).findIndex((id) => id > command.after);
      const start = from < 0 ? length : from;
      return { ids: [...ids.subarray(start, length)], keys: [...keys.subarray(start, length)] };
    }
    case 'check':
      return check(command);
    case 'close':
      for (const c of clients) c.socket?.destroy();
      setImmediate(() => process.exit(0));
      return null;
  }
}

answerCommands(handle);
