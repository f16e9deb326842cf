/**
 * vitest setupFiles: a test fails when one of its sockets received a server frame that
 * breaks docs/asyncapi.yaml, whether or not the test read that frame.
 */
import { afterEach } from 'vitest';
import { takeMismatches } from './frame-contract.js';

afterEach(() => {
  const found = takeMismatches();
  if (found.length === 0) return;
  throw new Error(
    `${found.length} server frame(s) broke docs/asyncapi.yaml:\n${found.map((err) => err.message).join('\n')}`,
  );
});
