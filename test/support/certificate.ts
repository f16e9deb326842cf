/**
 * A self-signed certificate made with openssl for the TLS tests: a P-256 key, valid a day,
 * for one DNS name. The browser is told to trust its public key (`spkiSha256`), a Node client
 * its PEM (`certPem`).
 */
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Certificate {
  certFile: string;
  keyFile: string;
  certPem: string;
  /** base64 SHA-256 of the public key (SubjectPublicKeyInfo), as Chromium's --ignore-certificate-errors-spki-list takes it. */
  spkiSha256: string;
}

/** Writes cert.pem and key.pem for `name` into `dir`. */
export function makeCertificate(dir: string, name: string): Certificate {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  // The .pem files, self-signed: -x509 makes a certificate rather than a request.
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'],
      ...['-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-keyout', keyFile, '-out', certFile],
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const certPem = readFileSync(certFile, 'utf8');
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return { certFile, keyFile, certPem, spkiSha256: createHash('sha256').update(spki).digest('base64') };
}
