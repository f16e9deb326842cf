/**
 * The reconnect storm's TCP proxy and balancer, in the bench process: clients connect to it,
 * and it forwards each connection to one of its targets in turn. cut() drops every
 * connection at once without a close frame (the sockets are destroyed) and goes on
 * accepting; only(port) sends new connections to one target, as a balancer does once a
 * health check has failed. A target's connection that closes (its server was killed)
 * drops the client's side the same way.
 */
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';

const PROXY_BACKLOG = 65_535;

export class CutProxy {
  /** Client-side sockets open now, with the target port each is forwarded to. */
  private readonly open = new Map<Socket, number>();
  private next = 0;
  private targets: number[];
  accepted = 0;

  private constructor(
    private readonly server: Server,
    targets: readonly number[],
  ) {
    this.targets = [...targets];
  }

  /** Listens on a free port of 127.0.0.1, forwarding to `targets` (ports on 127.0.0.1) in turn. */
  static async start(targets: readonly number[]): Promise<CutProxy> {
    let proxy: CutProxy | null = null;
    const server = createServer((client) => proxy?.forward(client));
    proxy = new CutProxy(server, targets);
    // A backlog as long as the kernel allows (net.core.somaxconn caps it): with Node's 511,
    // 1,000 clients reconnecting at once overflow the proxy's accept queue, and each SYN the
    // kernel drops costs its client a retransmission a second or more later.
    server.listen({ port: 0, host: '127.0.0.1', backlog: PROXY_BACKLOG });
    await once(server, 'listening');
    return proxy;
  }

  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy is not listening');
    return address.port;
  }

  url(path = '/ws'): string {
    return `ws://127.0.0.1:${this.port}${path}`;
  }

  private forward(client: Socket): void {
    this.accepted++;
    const port = this.targets[this.next++ % this.targets.length]!;
    const upstream = connect(port, '127.0.0.1');
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.open.set(client, port);
    const drop = () => {
      this.open.delete(client);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', drop);
      socket.on('close', drop);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Connections open now, all of them or those forwarded to `port`. */
  connections(port?: number): number {
    if (port === undefined) return this.open.size;
    let n = 0;
    for (const target of this.open.values()) if (target === port) n++;
    return n;
  }

  /** From now on every new connection goes to `port`. */
  only(port: number): void {
    this.targets = [port];
  }

  /** Drops every open connection at once, without a close frame; returns how many. */
  cut(): number {
    const sockets = [...this.open.keys()];
    this.open.clear();
    for (const socket of sockets) socket.destroy();
    return sockets.length;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }

  kill(): void {
    this.cut();
    this.server.close();
  }
}
