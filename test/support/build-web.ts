/**
 * vitest globalSetup: bundles the pages' scripts into dist/web/ once per run, as
 * `npm run build` does before `npm start`, so that a fresh clone's `npm test` serves real
 * scripts to the browser tests. esbuild takes well under a second; the type check of web/
 * is `npm run typecheck`'s job.
 */
import { bundlePages } from '../../tools/bundle.js';

export default async function buildWeb(): Promise<void> {
  await bundlePages();
}
