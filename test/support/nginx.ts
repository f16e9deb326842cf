/**
 * A private nginx in front of the tests' nodes, configured from deploy/nginx/ as an
 * operator copies it: only ports and paths are replaced (deploy-files.ts). It runs as the
 * current user in one process (`master_process off`, `daemon off`) with its own prefix, pid
 * and temp paths in a temp directory, and listens on 127.0.0.1 only.
 *
 *   const nginx = await Nginx.start({ site: 'chat.conf', nodes: [portA, portB] });
 *   await fetch(`${nginx.httpUrl}/`);   …   await nginx.stop();
 *
 * Without nginx the deploy suites skip with a loud warning on a developer's machine, and fail
 * under CI=true (.ci/run installs Debian's package).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployFile, substitute } from './deploy-files.js';
import { freePort } from './redis-process.js';
import { withTimeout } from './ws-client.js';

const START_MS = 5_000;
const STOP_MS = 5_000;

function findNginx(): string | null {
  for (const candidate of [process.env.NGINX, '/usr/sbin/nginx']) {
    if (candidate !== undefined && candidate !== '' && existsSync(candidate)) return candidate;
  }
  return spawnSync('nginx', ['-v']).status === 0 ? 'nginx' : null;
}

export const nginxBinary = findNginx();

/** True when nginx is installed; otherwise warns loudly, or throws under CI=true. */
export function nginxAvailable(): boolean {
  if (nginxBinary !== null) return true;
  const why = "nginx is not installed; the deploy tests need Debian's nginx: apt-get install -y nginx";
  if (process.env.CI === 'true') throw new Error(`CI=true and ${why}`);
  const bar = '!'.repeat(88);
  console.warn(`\n${bar}\n!! SKIPPING THE NGINX TESTS: ${why}\n${bar}\n`);
  return false;
}

export interface NginxOptions {
  /** The site from deploy/nginx/: chat.conf (plain HTTP) or chat-tls.conf. */
  site: 'chat.conf' | 'chat-tls.conf';
  /** The nodes' ports, in place of the upstream's two; one port serves as both. */
  nodes: number[];
  /** For chat-tls.conf: the PEM files in place of the Let's Encrypt ones. */
  certificate?: { certFile: string; keyFile: string };
}

export class Nginx {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    /** The port in place of `listen 80`. */
    readonly httpPort: number,
    /** The port in place of `listen 443 ssl`, with chat-tls.conf. */
    readonly httpsPort: number,
  ) {}

  get httpUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  static async start(options: NginxOptions): Promise<Nginx> {
    if (nginxBinary === null) throw new Error('nginx is not installed');
    const dir = await mkdtemp(join(tmpdir(), 'chat-nginx-'));
    const [httpPort, httpsPort] = [await freePort(), await freePort()];
    const [first, second = first] = options.nodes;
    const upstream = substitute(deployFile('nginx/chat-upstream.conf'), {
      '127.0.0.1:8081': `127.0.0.1:${first}`,
      '127.0.0.1:8082': `127.0.0.1:${second}`,
    });
    const paths: Record<string, string> = {
      'listen 80;': `listen 127.0.0.1:${httpPort};`,
      '/etc/nginx/snippets/chat-locations.conf': join(dir, 'chat-locations.conf'),
    };
    if (options.site === 'chat-tls.conf') {
      if (options.certificate === undefined) throw new Error('chat-tls.conf needs a certificate');
      paths['listen 443 ssl;'] = `listen 127.0.0.1:${httpsPort} ssl;`;
      paths['/etc/letsencrypt/live/chat.example.com/fullchain.pem'] = options.certificate.certFile;
      paths['/etc/letsencrypt/live/chat.example.com/privkey.pem'] = options.certificate.keyFile;
    }
    const site = substitute(deployFile(`nginx/${options.site}`), paths);
    await writeFile(join(dir, 'chat-upstream.conf'), upstream);
    await writeFile(join(dir, 'chat-locations.conf'), deployFile('nginx/chat-locations.conf'));
    await writeFile(join(dir, 'site.conf'), site);
    // The part of Debian's /etc/nginx/nginx.conf a site relies on, with this instance's own paths.
    const temp = join(dir, 'temp');
    await mkdir(temp);
    await writeFile(
      join(dir, 'nginx.conf'),
      [
        'daemon off;',
        'master_process off;',
        'worker_processes 1;',
        `pid ${join(dir, 'nginx.pid')};`,
        `error_log ${join(dir, 'error.log')} warn;`,
        'events { worker_connections 1024; }',
        'http {',
        `  access_log ${join(dir, 'access.log')};`,
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(temp, t)};`),
        `  include ${join(dir, 'chat-upstream.conf')};`,
        `  include ${join(dir, 'site.conf')};`,
        '}',
        '',
      ].join('\n'),
    );
    const child = spawn(nginxBinary, ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const nginx = new Nginx(child, dir, httpPort, httpsPort);
    try {
      await withTimeout(nginx.listening(), START_MS, 'nginx to listen');
    } catch (err) {
      const log = await nginx.errorLog();
      await nginx.stop();
      throw new Error(`${(err as Error).message}; its error log:\n${log}`, { cause: err });
    }
    return nginx;
  }

  /** nginx's error log so far. */
  errorLog(): Promise<string> {
    return readFile(join(this.dir, 'error.log'), 'utf8').catch(() => '');
  }

  /** Stops nginx (SIGTERM: at once) and removes its directory. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = once(this.child, 'exit');
      this.child.kill('SIGTERM');
      await withTimeout(exited, STOP_MS, 'nginx to stop').catch(() => this.child.kill('SIGKILL'));
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  /**
   * Resolves once nginx accepts connections on its port. With `daemon off` nothing tells
   * when it listens, so this tries to connect every 20 ms (the caller bounds it).
   */
  private async listening(): Promise<void> {
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`nginx exited with ${this.child.exitCode}`);
      const connected = await new Promise<boolean>((resolve) => {
        const socket = connect(this.httpPort, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
      if (connected) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
