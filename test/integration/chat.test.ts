/**
 * SPEC §2 (registration) and §3 (chat), each rule over real sockets on 127.0.0.1.
 * Leaving (§4) is in leaving.test.ts; the endpoint, HTTP and bad input in endpoint.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { error, expectOwnCopy, join, message, nameTaken, welcome } from '../support/expected.js';
import { type Frame } from '../support/ws-client.js';
import { serverPerTest } from '../support/test-server.js';

const start = serverPerTest();

describe('registration (SPEC §2)', () => {
  it('welcomes a new name with every online name, and announces it to the others only', async () => {
    const server = await start();
    const alice = await server.register('Alice');
    const bob = await server.connect();
    bob.send({ sender: 'Bob', text: 'this text is ignored' });
    expect(await bob.nextFrame()).toEqual(welcome('Bob', ['Alice', 'Bob']));
    expect(await alice.nextFrame()).toEqual(join('Bob'));
    await bob.expectQuiet();
    await alice.expectQuiet();
  });

  it('refuses a taken name in any letter case with the seed text; the client may then pick another', async () => {
    const server = await start();
    const alice = await server.register('Alice');
    const bob = await server.connect();
    bob.send({ sender: 'aLICE', text: '' });
    expect(await bob.nextFrame()).toStrictEqual(nameTaken);
    bob.send({ sender: 'Bob', text: '' });
    expect(await bob.nextFrame()).toEqual(welcome('Bob', ['Alice', 'Bob']));
    // The first thing Alice hears about is Bob's join: the refused claim announced nothing.
    expect(await alice.nextFrame()).toEqual(join('Bob'));
  });

  it.each([
    ['empty', ''],
    ['whitespace only', '  \t '],
    ['33 code points', 'x'.repeat(33)],
    ['the reserved Server', 'Server'],
    ['Server in another case', 'sERVER'],
    ['a bidi override (Cf)', 'evil\u202Eman'],
    ['a zero-width space (Cf)', 'zero\u200Bwidth'],
    ['a control character (Cc)', 'bell\u0007'],
    ['a NUL (Cc)', 'nul\u0000l'],
    ['a lone surrogate', 'half\ud800'],
    ['a line separator (Zl)', 'Bob\u2028Server'],
    ['only a Hangul filler, which shows as nothing', '\u3164'],
    ['only blank Braille patterns, which show as spaces', '\u2800\u2800'],
    ['Server in fullwidth letters', '\uFF33\uFF45\uFF52\uFF56\uFF45\uFF52'],
    ['Server with a variation selector', 'Server\uFE0F'],
  ])('refuses a name that is %s with invalid_name, and the client stays', async (_, name) => {
    const server = await start();
    const client = await server.connect();
    client.send({ sender: name, text: '' });
    expect(await client.nextFrame()).toEqual(error('invalid_name'));
    client.send({ sender: 'Valid', text: '' });
    expect(await client.nextFrame()).toEqual(welcome('Valid', ['Valid']));
  });

  it('counts the name length in code points, up to the configured maximum', async () => {
    const server = await start();
    const emoji = await server.connect();
    emoji.send({ sender: '😀'.repeat(32), text: '' }); // 64 UTF-16 units, 32 code points
    expect(await emoji.nextFrame()).toEqual(welcome('😀'.repeat(32), ['😀'.repeat(32)]));

    const short = await start({ nameMaxLength: 5 });
    const client = await short.connect();
    client.send({ sender: 'Alices', text: '' });
    expect(await client.nextFrame()).toEqual(error('invalid_name'));
    client.send({ sender: 'Alice', text: '' });
    expect(await client.nextFrame()).toEqual(welcome('Alice', ['Alice']));
  });

  it('NFC-normalises and trims a name before using it and comparing it', async () => {
    const server = await start();
    const first = await server.connect();
    first.send({ sender: '  Cafe\u0301 ', text: '' }); // e + combining acute
    expect(await first.nextFrame()).toEqual(welcome('Caf\u00e9', ['Caf\u00e9']));
    const second = await server.connect();
    second.send({ sender: 'CAF\u00c9', text: '' });
    expect(await second.nextFrame()).toStrictEqual(nameTaken);
  });

  it('refuses a Greek name that differs from a taken one only in the case of a vowel with iota subscript', async () => {
    const server = await start();
    await server.register('\u1ff7'); // ῷ
    const other = await server.connect();
    other.send({ sender: '\u03a9\u0342\u0345', text: '' }); // the same with a capital omega
    expect(await other.nextFrame()).toStrictEqual(nameTaken);
  });

  it('refuses a name that shows like a taken one: fullwidth letters or an invisible character added', async () => {
    const server = await start();
    await server.register('Alice');
    const other = await server.connect();
    other.send({ sender: '\uFF21lice', text: '' }); // fullwidth A
    expect(await other.nextFrame()).toStrictEqual(nameTaken);
    other.send({ sender: 'Alice\uFE0F', text: '' }); // a variation selector
    expect(await other.nextFrame()).toStrictEqual(nameTaken);
  });

  it('closes a client with 1008 when it names itself too late, without announcing anything', async () => {
    const server = await start({ registerTimeoutMs: 200 });
    const bob = await server.register('Bob');
    const silent = await server.connect();
    const { code } = await silent.waitClose(3_000);
    expect(code).toBe(1008);
    // Bob, registered before the silent client came, outlived its timeout and heard no leave.
    await server.register('Dave');
    expect(await bob.nextFrame()).toEqual(join('Dave'));
  });

  it('closes with 1008 after the 5th refused name, not before', async () => {
    const server = await start();
    await server.register('Alice');
    const bob = await server.connect();
    for (const name of ['alice', '', 'Server', 'ALICE']) {
      bob.send({ sender: name, text: '' });
      expect((await bob.nextFrame()).type).toBe('error');
    }
    await bob.expectQuiet(); // still open after 4 refusals
    bob.send({ sender: 'Alice', text: '' });
    expect(await bob.nextFrame()).toStrictEqual(nameTaken);
    expect((await bob.waitClose()).code).toBe(1008);
  });
});

describe('chat (SPEC §3)', () => {
  it('stamps the registered name as sender: a spoofed sender is ignored', async () => {
    const server = await start();
    const alice = await server.register('Alice');
    const bob = await server.register('Bob');
    await alice.nextFrame(); // Bob's join
    alice.send({ sender: 'Bob', text: 'I am Bob' });
    expect(await bob.nextFrame()).toEqual(message('Alice', 'I am Bob'));
  });

  it("gives the sender its own copy without sender, with the others' id and ts", async () => {
    const server = await start();
    const alice = await server.register('Alice');
    const bob = await server.register('Bob');
    await alice.nextFrame(); // Bob's join
    alice.send({ text: 'Hello' });
    const own = await alice.nextFrame();
    const theirs = await bob.nextFrame();
    expectOwnCopy(own, 'Hello');
    expect(theirs).toEqual({ ...message('Alice', 'Hello'), id: own.id, ts: own.ts });
  });

  it('delivers half a surrogate pair as U+FFFD, as every node of a cluster would through Redis', async () => {
    const server = await start();
    const alice = await server.register('Alice');
    const bob = await server.register('Bob');
    await alice.nextFrame(); // Bob's join
    alice.send('{"text":"broken \\ud800 pair"}');
    expectOwnCopy(await alice.nextFrame(), 'broken \uFFFD pair');
    expect(await bob.nextFrame()).toEqual(message('Alice', 'broken \uFFFD pair'));
  });

  it('numbers messages with increasing ids in delivery order and stamps the receive time in ms', async () => {
    const server = await start();
    const alice = await server.register('Alice');
    const bob = await server.register('Bob');
    const carol = await server.register('Carol');
    await carol.expectQuiet();
    const before = Date.now();
    for (let i = 0; i < 5; i++) {
      alice.send({ text: `a${i}` });
      bob.send({ text: `b${i}` });
    }
    const seen: Frame[] = [];
    for (let i = 0; i < 10; i++) seen.push(await carol.nextFrame(2_000, `message ${i + 1} of 10`));
    const after = Date.now();
    const ids = seen.map((frame) => Number(frame.id));
    expect(ids.every((id, i) => Number.isSafeInteger(id) && (i === 0 || id > ids[i - 1]!))).toBe(true);
    for (const frame of seen) {
      expect(frame.ts).toBeGreaterThanOrEqual(before);
      expect(frame.ts).toBeLessThanOrEqual(after);
    }
    // One sender's messages keep the order it sent them in.
    expect(seen.filter((f) => f.sender === 'Alice').map((f) => f.text)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    expect(seen.filter((f) => f.sender === 'Bob').map((f) => f.text)).toEqual(['b0', 'b1', 'b2', 'b3', 'b4']);
  });

  it.each([
    ['empty', ''],
    ['whitespace only', ' \n\t '],
    ['without anything visible', '\u200B\u2060\u3164\u2800'],
    ['over the configured maximum', 'x'.repeat(11)],
    // A terminal client printing it would act on these.
    ['holding ESC', 'hi\u001b[2J'],
    ['holding BEL', 'ding\u0007'],
    ['holding CR', 'a\rb'],
    ['holding DEL', 'a\u007fb'],
    ['holding a C1 control', 'a\u009bb'],
  ])('refuses a text that is %s with invalid_message and sends nothing to anyone', async (_, text) => {
    const server = await start({ textMaxLength: 10 });
    const alice = await server.register('Alice');
    const bob = await server.register('Bob');
    await alice.nextFrame(); // Bob's join
    alice.send({ text });
    expect(await alice.nextFrame()).toEqual(error('invalid_message'));
    alice.send({ text: 'x'.repeat(10) }); // at the limit: delivered, and Bob's fence
    expect(await bob.nextFrame()).toEqual(message('Alice', 'x'.repeat(10)));
  });

  it('delivers TAB and LF in a text as they are', async () => {
    const server = await start();
    const alice = await server.register('Alice');
    const bob = await server.register('Bob');
    await alice.nextFrame(); // Bob's join
    alice.send({ text: 'col 1\tcol 2\nline 2' });
    expect(await bob.nextFrame()).toEqual(message('Alice', 'col 1\tcol 2\nline 2'));
  });

  it('with echo "named" the sender gets the named copy; with "off" it gets none', async () => {
    const named = await start({ echo: 'named' });
    const alice = await named.register('Alice');
    alice.send({ text: 'Hi' });
    expect(await alice.nextFrame()).toEqual(message('Alice', 'Hi'));

    const off = await start({ echo: 'off' });
    const carol = await off.register('Carol');
    const dave = await off.register('Dave');
    carol.send({ text: 'Hi' });
    expect(await dave.nextFrame()).toEqual(message('Carol', 'Hi'));
    expect(await carol.nextFrame()).toEqual(join('Dave'));
    await carol.expectQuiet();
  });

  it('drops messages past the burst with a single rate_limited error, not one per message', async () => {
    const server = await start({ rateBurst: 3, ratePerSec: 1 });
    const alice = await server.register('Alice');
    const bob = await server.register('Bob');
    await alice.nextFrame(); // Bob's join
    for (let i = 0; i < 10; i++) alice.send({ text: `m${i}` });
    for (const text of ['m0', 'm1', 'm2']) expectOwnCopy(await alice.nextFrame(), text);
    expect(await alice.nextFrame()).toEqual(error('rate_limited'));
    await alice.expectQuiet(); // the server has handled all 10; no further error came
    for (const text of ['m0', 'm1', 'm2']) expect(await bob.nextFrame()).toEqual(message('Alice', text));
    await bob.expectQuiet();
  });

  it('does not limit the rate when the burst is 0', async () => {
    const server = await start({ rateBurst: 0 });
    const alice = await server.register('Alice');
    const bob = await server.register('Bob');
    for (let i = 0; i < 50; i++) alice.send({ text: `m${i}` });
    const got = await bob.framesUntil((frame) => frame.text === 'm49', 3_000, 'the 50th message');
    expect(got.map((frame) => frame.text)).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
  });
});
