/**
 * The files of deploy/, as the tests use them: read as they are, with only their ports and
 * paths replaced in a copy. Each replacement must find its text, so a deploy file that
 * changes under a test fails it rather than going untested.
 *
 *   const site = substitute(deployFile('nginx/chat.conf'), { 'listen 80;': `listen 127.0.0.1:${port};` });
 *   const env = envFile(deployFile('chat.env'));          // { HOST: '127.0.0.1', TRUST_PROXY: … }
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const DEPLOY_DIR = fileURLToPath(new URL('../../deploy/', import.meta.url));

/** The text of deploy/`path`. */
export function deployFile(path: string): string {
  return readFileSync(`${DEPLOY_DIR}${path}`, 'utf8');
}

/** `text` with every occurrence of each key replaced; throws when a key does not occur. */
export function substitute(text: string, replacements: Record<string, string>): string {
  let result = text;
  for (const [from, to] of Object.entries(replacements)) {
    if (!result.includes(from)) throw new Error(`the deploy file no longer holds ${JSON.stringify(from)}`);
    result = result.replaceAll(from, to);
  }
  return result;
}

/**
 * The variables of an environment file as systemd's EnvironmentFile= reads the simple
 * lines deploy/chat.env uses: `NAME=value`, `#` comments, blank lines. Anything else throws,
 * so the file cannot hold a line systemd would read differently from this.
 */
export function envFile(text: string): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Z_][A-Z0-9_]*)=([^'"\\\s]*)$/.exec(line);
    if (match === null) throw new Error(`not a plain NAME=value line: ${line}`);
    variables[match[1]!] = match[2]!;
  }
  return variables;
}

/** The value of `directive` in an nginx file, where it occurs exactly once (`proxy_read_timeout 60s;` → '60s'). */
export function nginxDirective(text: string, directive: string): string {
  const values = [...text.matchAll(new RegExp(`^\\s*${directive}\\s+([^;]+);`, 'gm'))].map((m) => m[1]!);
  if (values.length !== 1) throw new Error(`expected one ${directive}, found ${values.length}`);
  return values[0]!;
}
