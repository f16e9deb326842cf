import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { closeCodes, errors } from '../../src/errors.js';

const protocolDoc = readFileSync(new URL('../../PROTOCOL.md', import.meta.url), 'utf8');

/** The rows of the markdown table that follows `heading`, first cell only. */
function firstColumn(heading: string): string[] {
  const section = protocolDoc.split(heading)[1] ?? '';
  const rows = section
    .split('\n## ')[0]!
    .split('\n')
    .filter((line) => line.startsWith('| '));
  return rows.slice(2).map((row) => row.split('|')[1]!.trim().replaceAll('`', ''));
}

describe('PROTOCOL.md', () => {
  it('lists exactly the error codes the server can send', () => {
    expect(firstColumn('## Errors').sort()).toEqual(Object.keys(errors).sort());
  });

  it('lists exactly the close codes the server uses', () => {
    expect(firstColumn('## Close codes').map(Number).sort()).toEqual(Object.values(closeCodes).sort());
  });
});
