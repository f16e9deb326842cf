/**
 * An idle WebSocket through deploy/nginx/chat.conf outlives the site's own
 * proxy_read_timeout, because the node's heartbeat pings are traffic nginx sees. The
 * timeout is the deploy file's (60 s), so this test waits that long; the node pings every
 * second (HEARTBEAT_MS) so that the test need not also wait out the default 30 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployEnv, DeployNode } from '../support/deploy-node.js';
import { deployFile, nginxDirective } from '../support/deploy-files.js';
import { Nginx, nginxAvailable } from '../support/nginx.js';
import { freePort } from '../support/redis-server.js';
import { TestSocket } from '../support/ws-client.js';

const READ_TIMEOUT_MS = (() => {
  const value = nginxDirective(deployFile('nginx/chat-locations.conf'), 'proxy_read_timeout');
  const match = /^(\d+)s$/.exec(value);
  if (match === null) throw new Error(`proxy_read_timeout ${value}: expected seconds, such as 60s`);
  return Number(match[1]) * 1000;
})();
const HEARTBEAT_MS = 1_000;

describe.skipIf(!nginxAvailable())('an idle WebSocket through nginx', () => {
  let node: DeployNode;
  let nginx: Nginx;

  beforeAll(async () => {
    // One node: chat.env without its Redis, as docs/operations.md says for one node.
    const { REDIS_URL: _cluster, ...settings } = deployEnv('redis://127.0.0.1:6379');
    node = await DeployNode.start(await freePort(), { ...settings, HEARTBEAT_MS: String(HEARTBEAT_MS) });
    nginx = await Nginx.start({ site: 'chat.conf', nodes: [node.port] });
  }, 30_000);

  afterAll(async () => {
    await nginx?.stop();
    await node?.stop();
  });

  it(
    "stays open past nginx's proxy_read_timeout, kept alive by the node's heartbeat",
    async () => {
      const socket = await TestSocket.open(`ws://127.0.0.1:${nginx.httpPort}/ws`, { label: 'idle' });
      socket.send({ sender: 'idle', text: '' });
      expect((await socket.nextFrame()).type).toBe('welcome');
      // Idle, but for the pings, for longer than nginx waits for a byte from the node: the
      // wait for a close must run out.
      await expect(socket.waitClose(READ_TIMEOUT_MS + 3_000)).rejects.toThrow(/timed out/);
      await socket.expectQuiet();
      expect(socket.pings).toBeGreaterThanOrEqual(READ_TIMEOUT_MS / HEARTBEAT_MS - 5);
      socket.send({ text: 'still here' });
      expect(await socket.nextFrame()).toMatchObject({ type: 'message', text: 'still here' });
      socket.close();
    },
    READ_TIMEOUT_MS + 20_000,
  );
});
