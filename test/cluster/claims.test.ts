/**
 * SPEC §2 and §7: names are unique across the cluster, ignoring case. Clients on three
 * nodes claim variants of one name at the same moment: exactly one is welcomed, the others
 * get name_taken, and every node announces that one join once.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { join, nameTaken } from '../support/expected.js';
import { describeWithRedis, redisPerFile } from '../support/redis-server.js';
import { type TestSocket } from '../support/ws-client.js';
import { serverPerTest } from '../support/test-server.js';

const redis = redisPerFile();
const start = serverPerTest();

/** Spellings that fold to one name: case, NFC/NFD, and the sharp s that upper-cases to SS. */
const variantsOf = (base: string) => [
  base,
  base.toUpperCase(),
  base.toLowerCase(),
  base.normalize('NFD'),
  ` ${base.toLowerCase()} `,
];

describeWithRedis('cluster: one owner per name (SPEC §7)', () => {
  it('lets exactly one of several simultaneous claims on different nodes win, whatever the case', async () => {
    const nodes = await Promise.all([1, 2, 3].map(() => start({ resumeWindowMs: 0, redisUrl: redis().url })));
    const watchers: TestSocket[] = [];
    for (const [i, node] of nodes.entries()) watchers.push(await node.register(`Watcher${i}`));
    for (const [i, watcher] of watchers.entries()) {
      for (let j = i + 1; j < watchers.length; j++) expect(await watcher.nextFrame()).toEqual(join(`Watcher${j}`));
    }
    let round = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('Zoë', 'Straße', 'Anna', 'JOSÉ'),
        fc.array(fc.record({ node: fc.nat({ max: 2 }), variant: fc.nat({ max: 4 }) }), { minLength: 2, maxLength: 5 }),
        async (base, claims) => {
          round++;
          const name = `${base}${round}`;
          const sockets = await Promise.all(claims.map((c) => nodes[c.node]!.connect()));
          sockets.forEach((socket, i) => socket.send({ sender: variantsOf(name)[claims[i]!.variant], text: '' }));
          const answers = await Promise.all(sockets.map((socket) => socket.nextFrame(2_000, 'the answer to a claim')));
          const winners = answers.filter((a) => a.type === 'welcome');
          expect(winners).toHaveLength(1);
          expect(answers.filter((a) => a.type !== 'welcome')).toEqual(Array(claims.length - 1).fill(nameTaken));
          const shown = String(winners[0]!.name);
          for (const watcher of watchers) {
            expect(await watcher.nextFrame(2_000, `the join of ${shown}`)).toEqual(join(shown));
          }
          // Leaving frees the name cluster-wide; wait for that before the next round.
          for (const socket of sockets) socket.close();
          for (const watcher of watchers) {
            expect(await watcher.nextFrame(2_000, `the leave of ${shown}`)).toMatchObject({
              type: 'leave',
              name: shown,
            });
          }
        },
      ),
      { numRuns: 15 },
    );
    for (const watcher of watchers) await watcher.expectQuiet();
  });

  it('frees a name on every node as soon as its owner leaves', async () => {
    const [a, b] = await Promise.all([1, 2].map(() => start({ resumeWindowMs: 0, redisUrl: redis().url })));
    const straße = await a!.register('Straße');
    const other = await b!.connect();
    other.send({ sender: 'STRASSE', text: '' });
    expect(await other.nextFrame()).toEqual(nameTaken);
    const watcher = await b!.register('Watcher');
    straße.close();
    expect(await watcher.nextFrame()).toMatchObject({ type: 'leave', name: 'Straße' });
    other.send({ sender: 'STRASSE', text: '' });
    expect(await other.nextFrame()).toMatchObject({ type: 'welcome', name: 'STRASSE' });
  });
});
