/**
 * The socket harness checks what it receives against docs/asyncapi.yaml: shown against a
 * bare `ws` server that sends one frame the document forbids, since the real server
 * sends none (every other socket test would fail if it did).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type AddressInfo } from 'ws';
import { ServerFrameMismatch, takeMismatches } from '../support/frame-contract.js';
import { clientFrame, OPCODE, RawClient } from '../support/raw-client.js';
import { nextEvent, TestSocket } from '../support/ws-client.js';

/** A join with a field the document does not allow. */
const OFF_SPEC = { type: 'join', sender: 'Server', text: 'Mallory has joined the chat', name: 'Mallory', admin: true };

let server: WebSocketServer | null = null;

/** A server on 127.0.0.1 that answers every frame with OFF_SPEC; its port. */
async function offSpecServer(): Promise<number> {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.on('connection', (ws) => ws.on('message', () => ws.send(JSON.stringify(OFF_SPEC))));
  await nextEvent(server, 'listening');
  return (server.address() as AddressInfo).port;
}

afterEach(async () => {
  for (const client of server?.clients ?? []) client.terminate();
  await new Promise((resolve) => server?.close(resolve));
  server = null;
});

describe('the socket harness', () => {
  it('fails the read of a frame that breaks docs/asyncapi.yaml, naming the frame and the error', async () => {
    const socket = await TestSocket.open(`ws://127.0.0.1:${await offSpecServer()}/ws`, { label: 'Bob' });
    socket.send({ sender: 'Bob', text: '' });
    const read = socket.nextFrame();
    await expect(read).rejects.toThrow(ServerFrameMismatch);
    await expect(read).rejects.toThrow(/^Bob: server frame .*"admin":true.*additionalProperty/s);
    socket.terminate();
    // Kept for frame-contract-setup.ts, which fails the test with it even if never read;
    // taken here so that this test passes.
    expect(takeMismatches()).toHaveLength(1);
  });

  it('keeps a mismatch nobody reads, so that the test still fails', async () => {
    const socket = await TestSocket.open(`ws://127.0.0.1:${await offSpecServer()}/ws`);
    const received = nextEvent(socket.ws, 'message');
    socket.send({ sender: 'Bob', text: '' });
    await received;
    expect(takeMismatches().map((err) => err.message)).toEqual([expect.stringContaining('"admin":true')]);
    socket.terminate();
  });

  it('fails the raw client’s read of such a frame too', async () => {
    const client = await RawClient.open(await offSpecServer());
    client.send(clientFrame(OPCODE.text, '{"sender":"Bob","text":""}'));
    await expect(client.nextJson('the join')).rejects.toThrow(ServerFrameMismatch);
    client.socket.destroy();
    expect(takeMismatches()).toHaveLength(1);
  });
});
