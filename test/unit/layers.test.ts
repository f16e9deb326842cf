/**
 * Imports run one way: the pure protocol, then machines/, then the adapters in src/
 * (docs/architecture.md). A newcomer learns the protocol from the first two alone, and a
 * machine can be tested without a socket, because neither ever reaches for an adapter.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The pure layer: data and rules, no I/O, no xstate. */
const PURE = new Set([
  'src/errors.ts',
  'src/frames.ts',
  'src/limits.ts',
  'src/protocol.ts',
  'src/rate-limit.ts',
  'src/client-address.ts',
  'src/address-book.ts',
  'src/address-limits.ts',
  'src/address-names.ts',
]);

type Layer = 'pure' | 'machines' | 'adapters';

function layerOf(file: string): Layer {
  if (PURE.has(file)) return 'pure';
  return file.startsWith('machines/') ? 'machines' : 'adapters';
}

/** Packages each layer may import besides its own and earlier layers. */
const PACKAGES: Record<Layer, (specifier: string) => boolean> = {
  pure: () => false,
  machines: (specifier) => specifier === 'xstate',
  adapters: () => true,
};

const ORDER: Layer[] = ['pure', 'machines', 'adapters'];

/** A dynamic import whose module is computed: no reading of the source can tell what it loads. */
const COMPUTED = '(a computed import)';

/**
 * Every module `source` names, as TypeScript's parser reads it: import and export
 * declarations, `import x = require(…)`, `import(…)` and `import('…').Type`.
 */
function importsOf(source: string): string[] {
  const found: string[] = [];
  const named = (node: ts.Node | undefined) => {
    if (node !== undefined && ts.isStringLiteralLike(node)) found.push(node.text);
    else if (node !== undefined) found.push(COMPUTED);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) named(node.moduleSpecifier);
    else if (ts.isExternalModuleReference(node)) named(node.expression);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword)
      named(node.arguments[0]);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) named(node.argument.literal);
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile('module.ts', source, ts.ScriptTarget.Latest, true));
  return found;
}

/** The rule `file` breaks by importing `specifier`, or null when it may. Paths are relative to the root. */
function violation(file: string, specifier: string): string | null {
  const layer = layerOf(file);
  if (specifier === COMPUTED) return layer === 'adapters' ? null : `${file} (${layer}) has an import it computes`;
  if (!specifier.startsWith('.')) {
    return PACKAGES[layer](specifier) ? null : `${file} (${layer}) imports the package ${specifier}`;
  }
  const target = relative(ROOT, resolve(ROOT, dirname(file), specifier)).replace(/\.js$/, '.ts');
  const targetLayer = layerOf(target);
  if (ORDER.indexOf(targetLayer) > ORDER.indexOf(layer)) {
    return `${file} (${layer}) imports ${target} (${targetLayer})`;
  }
  return null;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join(dir, name));
}

describe('import direction: pure protocol -> machines/ -> adapters', () => {
  const files = [...sourceFiles('src'), ...sourceFiles('machines')];

  it('finds the files of each layer', () => {
    expect(files.filter((file) => layerOf(file) === 'pure').sort()).toEqual([...PURE].sort());
    expect(files.some((file) => layerOf(file) === 'machines')).toBe(true);
  });

  it('no pure module or machine imports a later layer, or a package it may not', () => {
    const broken = files.flatMap((file) =>
      importsOf(readFileSync(join(ROOT, file), 'utf8')).flatMap((specifier) => violation(file, specifier) ?? []),
    );
    expect(broken).toEqual([]);
  });

  it('catches each way of breaking the direction', () => {
    expect(violation('machines/hub.machine.ts', '../src/fanout.js')).toMatch(/imports src\/fanout\.ts \(adapters\)/);
    expect(violation('src/protocol.ts', '../machines/events.js')).toMatch(/imports machines\/events\.ts/);
    expect(violation('src/errors.ts', 'xstate')).toMatch(/package xstate/);
    expect(violation('machines/bus.ts', 'node:events')).toMatch(/package node:events/);
    expect(violation('machines/bus.ts', '../src/protocol.js')).toBeNull();
    expect(violation('src/server.ts', '../machines/hub.machine.js')).toBeNull();
    const tricky = [
      "/* a comment first */ import { a } from './a.js';",
      'import { \'quoted\' as q } from "./b.js";',
      'export * from "./c.js";',
      "import d = require('./d.js');",
      'const e = await import(`./e.js`);',
      "type F = import('./f.js').F;",
      'const g = await import(where);',
    ].join('\n');
    expect(importsOf(tricky)).toEqual(['./a.js', './b.js', './c.js', './d.js', './e.js', './f.js', COMPUTED]);
    expect(violation('machines/bus.ts', COMPUTED)).toMatch(/computes/);
  });
});
