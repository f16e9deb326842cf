/**
 * A chat node as chat-backend@.service runs one: the command line, with deploy/chat.env's
 * settings and its port, as the unit sets PORT from its instance name. A test changes only
 * ports (the Redis's) and may add settings the file leaves at their defaults.
 *
 *   const node = await DeployNode.start(await freePort(), { REDIS_URL: redis.url });
 *   node.logLines    …   node.kill('SIGKILL');   await node.stop();
 */
import { once } from 'node:events';
import { runCli, logged, type Cli, type LogLine } from './cli.js';
import { waitReadyz } from './cluster.js';
import { deployFile, envFile, substitute } from './deploy-files.js';
import { withTimeout } from './ws-client.js';

const STOP_MS = 5_000;

/** deploy/chat.env's settings, its Redis replaced by `redisUrl` (a private one). */
export function deployEnv(redisUrl: string): Record<string, string> {
  const port = new URL(redisUrl).port;
  return envFile(substitute(deployFile('chat.env'), { 'redis://127.0.0.1:6379': `redis://127.0.0.1:${port}` }));
}

export class DeployNode {
  private constructor(
    private readonly cli: Cli,
    readonly port: number,
  ) {}

  /** Starts a node on `port` with `settings` (deployEnv's, and any additions), once ready. */
  static async start(port: number, settings: Record<string, string>): Promise<DeployNode> {
    const node = new DeployNode(runCli([], { ...settings, PORT: String(port) }), port);
    try {
      await logged(node.cli, 'listening');
      await waitReadyz(node, 200, 10_000);
    } catch (err) {
      await node.stop();
      throw new Error(`${(err as Error).message}\n${node.cli.stderr()}`, { cause: err });
    }
    return node;
  }

  /** Its JSON log lines so far. */
  get logLines(): LogLine[] {
    return this.cli.logLines;
  }

  get(path: string): Promise<Response> {
    return fetch(`http://127.0.0.1:${this.port}${path}`);
  }

  get running(): boolean {
    return this.cli.child.exitCode === null && this.cli.child.signalCode === null;
  }

  /** Sends `signal`; resolves once the process has exited, with its exit code. */
  async signal(signal: NodeJS.Signals): Promise<number | null> {
    if (!this.running) return this.cli.child.exitCode;
    const exited = once(this.cli.child, 'exit') as Promise<[number | null]>;
    this.cli.child.kill(signal);
    const [code] = await withTimeout(exited, STOP_MS, `the node to exit on ${signal}`);
    return code;
  }

  /** Stops it as systemd would (SIGTERM), killing it if it outstays STOP_MS. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM').catch(() => this.cli.child.kill('SIGKILL'));
  }
}
