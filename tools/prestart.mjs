// `npm start` runs this first. With the build tools installed (`npm ci`), it builds, so that a
// checkout always runs what its sources say. Without them (`npm ci --omit=dev` on a server,
// from a release: tools/release.ts) it leaves the release's dist/ as it is; it cannot build,
// and a server has no sources changed since. Plain JavaScript: it must run with neither tsc
// nor tsx.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const root = new URL('..', import.meta.url);

// This project's own: `npm run build` finds tsc in its node_modules, not a parent directory's.
if (existsSync(new URL('node_modules/typescript/package.json', root))) {
  const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  process.exit(build.status ?? 1);
}
if (!existsSync(new URL('dist/src/main.js', root)) || !existsSync(new URL('dist/web/chat.js', root))) {
  console.error(
    'chat-backend: dist/ is missing and the build tools are not installed (npm ci --omit=dev): ' +
      'run npm ci to build here, or unpack a release made by npm run release (docs/operations.md)',
  );
  process.exit(1);
}
