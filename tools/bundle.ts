/**
 * The browser bundles, made with esbuild: each page's script (web/chat.ts, web/inspect.ts)
 * with everything it imports, the client library included, as one ES module in dist/web/.
 * tsc only type-checks web/ (`npm run typecheck`); esbuild strips the types without
 * checking them, so the two never disagree on what ships.
 *
 * `npm run build:web` runs this file; the tests' global setup calls `bundlePages()`, and the
 * size test `bundleClient()`, so the options live here once.
 */
import { build, type BuildOptions } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** What every browser bundle shares: ESM, minified, for browsers of the last few years. */
const BROWSER: BuildOptions = {
  absWorkingDir: ROOT,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
};

/**
 * The pages' scripts, written to dist/web/chat.js and dist/web/inspect.js (src/pages.ts serves
 * them), or to `outdir` (a release's, tools/release.ts).
 */
export async function bundlePages(outdir = 'dist/web'): Promise<void> {
  await build({ ...BROWSER, entryPoints: ['web/chat.ts', 'web/inspect.ts'], outdir });
}

export interface BundleSize {
  bytes: number;
  gzipBytes: number;
}

/** The size of `entry` bundled and minified, as shipped, and gzipped (level 9, as a server would). */
export async function bundleSize(entry: string): Promise<BundleSize> {
  const result = await build({ ...BROWSER, entryPoints: [entry], write: false });
  const code = result.outputFiles[0]!.contents;
  return { bytes: code.byteLength, gzipBytes: gzipSync(code, { level: 9 }).byteLength };
}

/** The client library alone, the way an app that imports `connect` would ship it. */
export function bundleClient(): Promise<BundleSize> {
  return bundleSize('client/index.ts');
}

// `tsx tools/bundle.ts`: build the pages; `tsx tools/bundle.ts --sizes`: print the sizes too.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await bundlePages();
  if (process.argv.includes('--sizes')) {
    for (const entry of ['client/index.ts', 'web/chat.ts', 'web/inspect.ts']) {
      const { bytes, gzipBytes } = await bundleSize(entry);
      console.log(`${entry}: ${bytes} bytes minified, ${gzipBytes} bytes gzipped`);
    }
  }
}
