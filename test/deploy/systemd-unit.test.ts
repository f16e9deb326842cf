/**
 * deploy/systemd/chat-backend@.service passes `systemd-analyze verify` as an operator copies
 * it (only node's path replaced, for a machine where it lives elsewhere), and its file limit
 * covers a node's sockets. Without systemd-analyze (a machine without systemd) it skips with
 * a warning: CI cannot install it inside a container either.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { deployFile, substitute } from '../support/deploy-files.js';

const UNIT = 'chat-backend@.service';
const present = spawnSync('systemd-analyze', ['--version']).status === 0;
if (!present) console.warn('\n!! SKIPPING the systemd unit check: systemd-analyze is not installed\n');

describe.skipIf(!present)(`deploy/systemd/${UNIT}`, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chat-unit-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** systemd-analyze verify's findings on `unit` as instance 8081: empty when it has none. */
  async function verify(unit: string): Promise<{ status: number | null; findings: string }> {
    await writeFile(join(dir, UNIT), unit);
    const run = spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, 'chat-backend@8081.service')], {
      encoding: 'utf8',
    });
    return { status: run.status, findings: `${run.stdout}${run.stderr}`.trim() };
  }

  const copied = () => substitute(deployFile(`systemd/${UNIT}`), { '/usr/bin/node': process.execPath });

  it('has nothing systemd-analyze verify objects to', async () => {
    expect(await verify(copied())).toEqual({ status: 0, findings: '' });
    // The check sees a mistake: a value systemd would ignore, with a warning only.
    const broken = await verify(copied().replace(/^LimitNOFILE=.*$/m, 'LimitNOFILE=plenty'));
    expect(broken.findings).toMatch(/LimitNOFILE|resource value/);
  });

  it('lets a node hold its sockets (MAX_CONNECTIONS and 10 % more) with room to spare', () => {
    const limit = Number(/^LimitNOFILE=(\d+)$/m.exec(copied())?.[1]);
    expect(limit).toBeGreaterThanOrEqual(loadConfig().maxConnections * 1.1 + 1_000);
  });
});
