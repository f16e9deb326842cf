/**
 * One load process: a share of the bench's clients, driven over IPC by bench/load.ts.
 *
 * Each client registers as `b<index>`, then counts what it receives. A sender puts
 * `<slot>:<seq>:<sent µs>` in its text, so every receiver can check, per sender, that
 * messages come once each and in order, that ids only increase (one total order), and how
 * long each took (CLOCK_MONOTONIC via hrtime is shared by every process on the machine).
 */
import { Histogram } from './histogram.js';
import type { LoadCommand, LoadReport } from './load.js';
import { WireClient } from './wire-client.js';
import { answerCommands } from './worker.js';

interface Client {
  socket: WireClient;
  /** Sender slot, or -1 for a client that only listens. */
  slot: number;
  /** Highest message id seen: ids must only increase. */
  lastId: number;
  /** Per sender slot: highest seq seen, and how many distinct messages arrived. */
  lastSeq: Int32Array;
  received: Int32Array;
  /** Online users known: the welcome's list, plus every join after it. */
  known: number;
  complete: boolean;
}

interface Sender {
  client: Client;
  seq: number;
  inFlight: number;
  timer: NodeJS.Timeout | null;
}

const clients: Client[] = [];
const senders: Sender[] = [];
let slots = 0;
let total = 0;
let completed = 0;
let onAllComplete: (() => void) | null = null;
let mode: 'idle' | 'saturate' | 'pace' = 'idle';
let window = 1;

let measuring = false;
let deliveries = 0;
let latency = new Histogram();
const problems = { duplicates: 0, orderViolations: 0, errors: 0, leaves: 0, closes: 0, badFrames: 0 };
const receivedBySlot: number[] = [];

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** Reads the digits of `s` from `at` up to the first non-digit: [value, index after]. */
function readInt(s: string, at: number): [number, number] {
  let value = 0;
  let i = at;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    value = value * 10 + c;
  }
  return [value, i];
}

const MESSAGE_PREFIX = '{"type":"message"';

function onFrame(client: Client, s: string): void {
  if (!s.startsWith(MESSAGE_PREFIX)) return onNotice(client, s);
  const textAt = s.indexOf('"text":"');
  const idAt = s.indexOf('"id":"');
  if (textAt < 0 || idAt < 0) return void problems.badFrames++;
  const [slot, afterSlot] = readInt(s, textAt + 8);
  const [seq, afterSeq] = readInt(s, afterSlot + 1);
  const [sentUs] = readInt(s, afterSeq + 1);
  const [id] = readInt(s, idAt + 6);
  if (id <= client.lastId) problems.orderViolations++;
  client.lastId = id;
  if (seq <= client.lastSeq[slot]!) problems.duplicates++;
  else {
    client.lastSeq[slot] = seq;
    client.received[slot]!++;
  }
  if (measuring) {
    deliveries++;
    latency.record(nowUs() - sentUs);
  }
  if (slot === client.slot) onEcho(senders[slot]!);
}

const JOIN_PREFIX = '{"type":"join"';

function onNotice(client: Client, s: string): void {
  // Joins are most of a storm: counted without parsing.
  if (s.startsWith(JOIN_PREFIX)) client.known++;
  else {
    const frame = JSON.parse(s) as { type: string; users?: string[] };
    if (frame.type === 'welcome') client.known += frame.users?.length ?? 0;
    else if (frame.type === 'leave') problems.leaves++;
    else if (frame.type === 'error') problems.errors++;
    else problems.badFrames++;
    if (frame.type !== 'welcome') return;
  }
  if (!client.complete && client.known >= total) {
    client.complete = true;
    if (++completed === clients.length) onAllComplete?.();
  }
}

function send(sender: Sender): void {
  sender.seq++;
  sender.client.socket.send(`{"text":"${sender.client.slot}:${sender.seq}:${nowUs()}"}`);
}

function onEcho(sender: Sender): void {
  sender.inFlight--;
  if (mode === 'saturate') {
    while (sender.inFlight < window) {
      sender.inFlight++;
      send(sender);
    }
  }
}

/** Open loop: each message leaves at its scheduled time, whatever the server is doing. */
function pace(sender: Sender, perSec: number, startUs: number): void {
  const periodUs = 1e6 / perSec;
  let due = 0;
  const tick = () => {
    const now = nowUs();
    while (startUs + due * periodUs <= now) {
      due++;
      sender.inFlight++;
      send(sender);
    }
    sender.timer = setTimeout(tick, Math.max(0, (startUs + due * periodUs - nowUs()) / 1000));
  };
  sender.timer = setTimeout(tick, Math.max(0, (startUs - nowUs()) / 1000));
}

function connect(command: Extract<LoadCommand, { cmd: 'connect' }>): Promise<void> {
  slots = command.senders.length;
  total = command.total;
  for (let s = 0; s < slots; s++) receivedBySlot[s] = 0;
  const done = new Promise<void>((resolve) => (onAllComplete = resolve));
  let fail: (err: Error) => void = () => undefined;
  const failure = new Promise<void>((_, reject) => (fail = reject));
  let next = 0;

  // At most `concurrency` handshakes at once: each open starts the next.
  const openOne = (): void => {
    if (next >= command.count) return;
    const index = command.first + next++;
    const slot = command.senders.indexOf(index);
    const client: Client = {
      slot,
      lastId: 0,
      lastSeq: new Int32Array(slots),
      received: new Int32Array(slots),
      known: 0,
      complete: false,
      socket: new WireClient(
        command.url,
        {
          open: () => {
            client.socket.send(`{"sender":"b${index}","text":""}`);
            openOne();
          },
          frame: (text) => onFrame(client, text),
          close: (err) => {
            problems.closes++;
            if (!client.complete)
              fail(
                new Error(`client b${index} closed before it saw every join${err === null ? '' : `: ${err.message}`}`),
              );
          },
        },
        command.localAddresses.length === 0 ? undefined : command.localAddresses[index % command.localAddresses.length],
      ),
    };
    clients.push(client);
    if (slot >= 0) senders[slot] = { client, seq: 0, inFlight: 0, timer: null };
  };
  for (let i = 0; i < Math.min(command.concurrency, command.count); i++) openOne();
  return Promise.race([done, failure]);
}

function report(): LoadReport {
  for (let s = 0; s < slots; s++) receivedBySlot[s] = 0;
  for (const client of clients) for (let s = 0; s < slots; s++) receivedBySlot[s]! += client.received[s]!;
  return { deliveries, latency: latency.toJSON(), problems: { ...problems }, received: [...receivedBySlot] };
}

/** Resolves once every local client has every message the senders report as sent. */
async function drain(finals: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const missing = () => clients.some((c) => finals.some((final, s) => c.lastSeq[s]! < final));
  while (missing()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

async function handle(command: LoadCommand): Promise<unknown> {
  switch (command.cmd) {
    case 'ping':
      return null;
    case 'connect':
      await connect(command);
      return { clients: clients.length };
    case 'measure':
      measuring = command.on;
      if (command.on) {
        deliveries = 0;
        latency = new Histogram();
      }
      return null;
    case 'saturate':
      mode = 'saturate';
      window = command.window;
      for (const sender of senders.filter(Boolean)) {
        while (sender.inFlight < window) {
          sender.inFlight++;
          send(sender);
        }
      }
      return null;
    case 'pace':
      mode = 'pace';
      for (const sender of senders.filter(Boolean)) {
        pace(
          sender,
          command.perSenderPerSec,
          command.startUs + sender.client.slot * (1e6 / command.perSenderPerSec / slots),
        );
      }
      return null;
    case 'stop': {
      mode = 'idle';
      const finals: Record<number, number> = {};
      for (const sender of senders.filter(Boolean)) {
        if (sender.timer !== null) clearTimeout(sender.timer);
        sender.timer = null;
        finals[sender.client.slot] = sender.seq;
      }
      return finals;
    }
    case 'drain':
      return drain(command.finals, command.timeoutMs);
    case 'report':
      return report();
    case 'close':
      for (const client of clients) client.socket.destroy();
      setImmediate(() => process.exit(0));
      return null;
  }
}

answerCommands(handle);
