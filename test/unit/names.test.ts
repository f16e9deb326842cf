/**
 * The name rules (SPEC §2): what makes a name valid, how it is normalised for display, and
 * how it folds to the key it must be unique under.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { foldName, isValidName, normaliseName } from '../../src/protocol.js';

const valid = (name: string) => isValidName(name, 32);

describe('name rules', () => {
  it('normalises to NFC and trims', () => {
    expect(normaliseName('  Zoe\u0301 \n')).toBe('Zo\u00e9');
  });

  it('accepts an ordinary name, inner spaces and non-Latin scripts included', () => {
    expect(valid('Alice')).toBe(true);
    expect(valid('Mary Ann')).toBe(true);
    expect(valid('Ζωή')).toBe(true);
  });

  it.each(['', '   ', '\t\n'])('refuses an empty or blank name %j', (name) => {
    expect(valid(name)).toBe(false);
  });

  it('counts length in code points: 32 is fine, 33 is too long', () => {
    expect(valid('a'.repeat(32))).toBe(true);
    expect(valid('a'.repeat(33))).toBe(false);
  });

  it('counts an astral character as one code point', () => {
    expect(valid('😀'.repeat(32))).toBe(true);
    expect(valid('😀'.repeat(33))).toBe(false);
  });

  it('measures length after trimming and NFC composition', () => {
    expect(valid(`  ${'a'.repeat(32)}  `)).toBe(true);
    expect(valid('e\u0301'.repeat(32))).toBe(true); // 64 code points in NFD, 32 in NFC
  });

  it('honours a configured maximum length', () => {
    expect(isValidName('abcd', 4)).toBe(true);
    expect(isValidName('abcde', 4)).toBe(false);
  });

  it.each([
    ['a bidi override U+202E', 'Ali\u202Eecb'],
    ['a zero-width space U+200B', 'Ali\u200Bce'],
    ['a zero-width joiner U+200D', 'Ali\u200Dce'],
    ['a NUL', 'Ali\u0000ce'],
    ['a BEL', 'Ali\u0007ce'],
    ['a DEL', 'Ali\u007Fce'],
    ['a lone high surrogate', 'Ali\uD800ce'],
    ['a lone low surrogate', '\uDC00Alice'],
    ['a line separator U+2028', 'Server\u2028Bob'],
    ['a paragraph separator U+2029', 'Ali\u2029ce'],
  ])('refuses a name holding %s', (_, name) => {
    expect(valid(name)).toBe(false);
  });

  it.each([
    ['a Hangul filler U+3164', '\u3164'],
    ['the blank Braille pattern U+2800', '\u2800\u2800'],
    ['a combining grapheme joiner U+034F', '\u034F'],
    ['a variation selector U+FE0F', '\uFE0F'],
  ])('refuses a name of nothing but %s, which shows as nothing', (_, name) => {
    expect(valid(name)).toBe(false);
  });

  it.each(['Server', 'SERVER', 'server', ' server ', 'ſerver'])('reserves %j in any letter case', (name) => {
    expect(valid(name)).toBe(false);
  });

  it.each([
    ['fullwidth letters', '\uFF33\uFF45\uFF52\uFF56\uFF45\uFF52'],
    ['mathematical bold letters', '\u{1D412}\u{1D41E}\u{1D42B}\u{1D42F}\u{1D41E}\u{1D42B}'],
    ['a trailing variation selector', 'Server\uFE0F'],
    ['a combining grapheme joiner inside', 'Ser\u034Fver'],
  ])('reserves Server written with %s, which shows as Server', (_, name) => {
    expect(valid(name)).toBe(false);
  });

  it('does not reserve names that merely contain Server', () => {
    expect(valid('Servers')).toBe(true);
    expect(valid('The Server')).toBe(true);
  });
});

describe('foldName', () => {
  it('ignores letter case', () => {
    expect(foldName('Alice')).toBe(foldName('aLICE'));
  });

  it('folds Straße and STRASSE together', () => {
    expect(foldName('Straße')).toBe(foldName('STRASSE'));
  });

  it('folds capital sharp s with ß and SS', () => {
    expect(foldName('STRA\u1e9eE')).toBe(foldName('Straße'));
    expect(foldName('\u1e9e')).toBe(foldName('SS'));
  });

  it('folds NFC and NFD spellings together', () => {
    expect(foldName('Zo\u00e9')).toBe(foldName('Zoe\u0301'));
  });

  // "ῼ͂" is "ῷ" with a capital omega: NFC makes it U+1FFC + U+0342, and upper-casing U+1FFC
  // puts its iota before the perispomeni (ΩΙ͂), while "ῷ" upper-cases to Ω͂Ι.
  it('folds a Greek iota subscript the same whatever the case of its vowel', () => {
    expect(foldName('\u03a9\u0342\u0345')).toBe(foldName('\u1ff7'));
    expect(foldName('\u0391\u0301\u0345')).toBe(foldName('\u1fb4'));
    expect(foldName('\u03a9\u0342\u0345')).toBe(foldName('\u03a9\u0342\u0399'));
  });

  it('ignores the letter case of any spelling of a Greek name', () => {
    const greek = [...'ΑΗΩαηωΙιΣσςᾳῃῳᾼῌῼᾷῇῷᾀᾈ', '\u0300', '\u0301', '\u0308', '\u0313', '\u0314', '\u0342', '\u0345'];
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...greek), minLength: 1, maxLength: 6 }), (name) => {
        const decomposed = name.normalize('NFD');
        expect(foldName(decomposed.toUpperCase())).toBe(foldName(name));
        expect(foldName(decomposed.toLowerCase())).toBe(foldName(name));
      }),
      { numRuns: 2_000 },
    );
  });

  it('folds compatibility forms to their plain letters', () => {
    expect(foldName('\uFF21lice')).toBe(foldName('Alice')); // fullwidth A
    expect(foldName('\uFB01ona')).toBe(foldName('Fiona')); // the ligature fi
    expect(foldName('\u01C5ana')).toBe(foldName('DŽANA')); // title-case digraph Dž
  });

  it('ignores characters that show as nothing', () => {
    expect(foldName('Alice\uFE0F')).toBe(foldName('Alice'));
    expect(foldName('Al\u034Fice')).toBe(foldName('Alice'));
    expect(foldName('Alice\u3164')).toBe(foldName('Alice'));
    expect(foldName('Alice\u2800')).toBe(foldName('Alice'));
  });

  it('keeps different names apart', () => {
    expect(foldName('Alice')).not.toBe(foldName('Alicia'));
    expect(foldName('Al ice')).not.toBe(foldName('Alice'));
  });

  // Telling look-alikes from other scripts apart would need Unicode's confusables table.
  it('keeps a look-alike from another script apart', () => {
    expect(foldName('\u0410lice')).not.toBe(foldName('Alice')); // Cyrillic А
  });

  it('is idempotent', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (name) => foldName(foldName(name)) === foldName(name)));
  });

  // Random strings found the capital sharp s only once in a while; every code point, alone
  // and after a letter (final sigma depends on what precedes it), is checked every run.
  // Alone catches a key that starts with a space once decomposed ("¨" is a space and U+0308).
  it('is idempotent on every code point', () => {
    const unstable: string[] = [];
    for (let codePoint = 0; codePoint <= 0x10ffff; codePoint++) {
      if (codePoint >= 0xd800 && codePoint <= 0xdfff) continue;
      for (const name of [String.fromCodePoint(codePoint), `a${String.fromCodePoint(codePoint)}`]) {
        const folded = foldName(name);
        if (foldName(folded) !== folded) unstable.push(`U+${codePoint.toString(16).toUpperCase()}`);
      }
    }
    expect(unstable).toEqual([]);
  });
});

describe('name properties', () => {
  it('a valid name normalises to a non-empty name that does not fold to "server"', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (name) => {
        fc.pre(isValidName(name, 32));
        const shown = normaliseName(name);
        expect(shown).not.toBe('');
        expect(foldName(shown)).not.toBe('server');
      }),
    );
  });

  it('a valid name stays valid once normalised, and normalising twice changes nothing', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (name) => {
        expect(normaliseName(normaliseName(name))).toBe(normaliseName(name));
        if (isValidName(name, 32)) expect(isValidName(normaliseName(name), 32)).toBe(true);
      }),
    );
  });
});
