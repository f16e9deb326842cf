/**
 * The client library's weight in a browser: bundled and minified as an app would ship it
 * (tools/bundle.ts), then gzipped. A size check, not a timing: it fails when a change makes
 * the library grow past its budget (docs/client.md, Size), so growth is a decision.
 */
import { describe, expect, it } from 'vitest';
import { bundleClient } from '../../tools/bundle.js';

/**
 * 3,715 bytes gzipped today (docs/client.md, Size); the budget leaves room to grow, not
 * room to pull in a dependency.
 */
const BUDGET_GZIP_BYTES = 6 * 1024;

describe('the client library bundle', () => {
  it(`stays under ${BUDGET_GZIP_BYTES} bytes gzipped, minified`, async () => {
    const size = await bundleClient();
    expect(size.bytes, 'something was bundled').toBeGreaterThan(1_000);
    expect(size.gzipBytes).toBeLessThanOrEqual(BUDGET_GZIP_BYTES);
  });
});
