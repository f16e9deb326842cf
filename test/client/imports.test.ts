/**
 * The client ships to browsers with no runtime dependency: its modules import one another
 * and nothing else at runtime. From the server's code it may take types alone (the wire
 * types, so they are spelled once), which vanish from the built JavaScript.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const CLIENT = resolve(dirname(fileURLToPath(import.meta.url)), '../../client');
const TYPES_FROM_SERVER = new Set(['../src/frames.js', '../src/errors.js']);

/** What `source` imports that the client may not: a package, or server code at runtime. */
function forbidden(source: string): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined) {
      const from = (node.moduleSpecifier as ts.StringLiteral).text;
      const typeOnly = ts.isImportDeclaration(node) ? node.importClause?.isTypeOnly === true : node.isTypeOnly;
      const local = from.startsWith('./') && !from.includes('/', 2);
      if (!local && !(typeOnly && TYPES_FROM_SERVER.has(from))) found.push(from);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      found.push('import()');
    }
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile('module.ts', source, ts.ScriptTarget.Latest, true));
  return found;
}

describe('client imports', () => {
  it('imports only its own modules, and types alone from the server', () => {
    const files = readdirSync(CLIENT).filter((name) => name.endsWith('.ts'));
    expect(files).toContain('index.ts');
    const broken = files.flatMap((file) =>
      forbidden(readFileSync(join(CLIENT, file), 'utf8')).map((from) => `${file} imports ${from}`),
    );
    expect(broken).toEqual([]);
  });

  it('catches each way of breaking it', () => {
    expect(forbidden("import { WebSocket } from 'ws';")).toEqual(['ws']);
    expect(forbidden("import { errors } from '../src/errors.js';")).toEqual(['../src/errors.js']);
    expect(forbidden("import type { Hub } from '../machines/hub.machine.js';")).toEqual(['../machines/hub.machine.js']);
    expect(forbidden("export * from '../src/protocol.js';")).toEqual(['../src/protocol.js']);
    expect(forbidden("const x = await import('./a.js');")).toEqual(['import()']);
    expect(forbidden("import type { ServerFrame } from '../src/frames.js';\nimport { a } from './a.js';")).toEqual([]);
  });
});
