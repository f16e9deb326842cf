/**
 * Whose connection is this: the client address every per-address limit and log line uses.
 *
 *   socket peer ── a trusted proxy (TRUST_PROXY)? ── no ──▶ the peer is the client
 *                  └ yes ─▶ X-Forwarded-For, read from the right:
 *                           "spoofed, 198.51.100.7, 10.0.0.2"   (peer 10.0.0.3)
 *                                     ▲ first hop not trusted: the client
 *
 * Each proxy appends the address it was reached from, so only the entries to the right of
 * the first untrusted one were written by proxies we trust; anything further left came from
 * the client and proves nothing. Addresses are kept as 16 bytes (IPv4 as IPv4-mapped IPv6),
 * so `::ffff:10.0.0.1` and `10.0.0.1` are the same address everywhere.
 *
 * Pure: no sockets, no DNS. The adapters hand in the peer and the header.
 */

/** An IP address as 16 bytes; an IPv4 address is held IPv4-mapped (::ffff:a.b.c.d). */
type Bytes = readonly number[];

/** Bits an IPv4-mapped address spends before its IPv4 part. */
const V4_OFFSET_BITS = 96;

/**
 * The bits of an IPv6 address that per-address limits group by. A host is usually handed a
 * whole /64 (SLAAC, privacy addresses), so counting each /128 would let one machine pick a
 * fresh address for every connection.
 */
export const IPV6_GROUP_BITS = 64;

/**
 * The IPv6 prefix a site is handed (a tunnel broker's customer gets a /48, 65,536 /64s),
 * whose /64s share IPV6_SITE_SHARES times one address's connection limits between them:
 * else one holder of a /48 could take every place, a share per /64.
 */
export const IPV6_SITE_BITS = 48;
export const IPV6_SITE_SHARES = 4;

const V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

function parseV4(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const bytes: number[] = [];
  for (const part of parts) {
    // No leading zeros: "010" reads as octal to some tools and as decimal to others.
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null;
    const value = Number(part);
    if (value > 255) return null;
    bytes.push(value);
  }
  return bytes;
}

function parseGroups(text: string): number[] | null {
  if (text === '') return [];
  const groups: number[] = [];
  const parts = text.split(':');
  for (const [i, part] of parts.entries()) {
    if (i === parts.length - 1 && part.includes('.')) {
      const v4 = parseV4(part);
      if (v4 === null) return null;
      groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    } else {
      if (!/^[0-9a-f]{1,4}$/i.test(part)) return null;
      groups.push(parseInt(part, 16));
    }
  }
  return groups;
}

function parseV6(text: string): number[] | null {
  // A zone (fe80::1%eth0) names an interface of this host, not another address.
  const address = text.replace(/%[^%]+$/, '');
  const halves = address.split('::');
  if (halves.length > 2) return null;
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...Array<number>(missing).fill(0), ...tail];
  return groups.flatMap((group) => [group >> 8, group & 0xff]);
}

/** `text` as 16 bytes, or null when it is not an IPv4 or IPv6 address. */
function parseAddress(text: string): Bytes | null {
  if (text.includes(':')) return parseV6(text);
  const v4 = parseV4(text);
  return v4 === null ? null : [...V4_MAPPED_PREFIX, ...v4];
}

function isV4(bytes: Bytes): boolean {
  return V4_MAPPED_PREFIX.every((byte, i) => bytes[i] === byte);
}

/** The usual text of an address: dotted IPv4, or IPv6 with its longest run of zero groups as `::` (RFC 5952). */
function formatAddress(bytes: Bytes): string {
  if (isV4(bytes)) return bytes.slice(12).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  let best = { at: -1, length: 1 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length) best = { at: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = (from: number, to: number) => groups.slice(from, to).map((group) => group.toString(16));
  if (best.at === -1) return hex(0, 8).join(':');
  return `${hex(0, best.at).join(':')}::${hex(best.at + best.length, 8).join(':')}`;
}

/** `bytes` with every bit past the first `bits` cleared. */
function masked(bytes: Bytes, bits: number): number[] {
  return bytes.map((byte, i) => {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    return byte & ((0xff << (8 - keep)) & 0xff);
  });
}

/** One TRUST_PROXY entry: an address and how many of its leading bits must match. */
interface Network {
  bytes: Bytes;
  bits: number;
}

/** `10.0.0.0/8`, `2001:db8::/32` or a plain address (all its bits); null when not one. */
function parseNetwork(entry: string): Network | null {
  const slash = entry.indexOf('/');
  const bytes = parseAddress(slash === -1 ? entry : entry.slice(0, slash));
  if (bytes === null) return null;
  const v4 = isV4(bytes) && !entry.slice(0, slash === -1 ? undefined : slash).includes(':');
  const most = v4 ? 32 : 128;
  if (slash === -1) return { bytes, bits: 128 };
  const length = entry.slice(slash + 1);
  if (!/^\d{1,3}$/.test(length) || Number(length) > most) return null;
  return {
    bytes: masked(bytes, Number(length) + (v4 ? V4_OFFSET_BITS : 0)),
    bits: Number(length) + (v4 ? V4_OFFSET_BITS : 0),
  };
}

function networkText({ bytes, bits }: Network): string {
  return isV4(bytes) && bits >= V4_OFFSET_BITS
    ? `${formatAddress(bytes)}/${bits - V4_OFFSET_BITS}`
    : `${formatAddress(bytes)}/${bits}`;
}

/**
 * Reads TRUST_PROXY: comma-separated addresses and networks (`10.0.0.0/8`, `::1`,
 * `fd00::/8`), returned in one normal form (`10.0.0.0/8`, `::1/128`). Throws an Error
 * whose message names the first entry that is neither.
 */
export function parseProxyList(raw: string): string[] {
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) throw new Error('expected at least one address or network such as 10.0.0.0/8');
  return entries.map((entry) => {
    const network = parseNetwork(entry);
    if (network === null)
      throw new Error(`${JSON.stringify(entry)} is not an IP address or network such as 10.0.0.1 or 10.0.0.0/8`);
    return networkText(network);
  });
}

/** The proxies whose X-Forwarded-For is believed (TRUST_PROXY, in parseProxyList's form). */
export class TrustedProxies {
  private readonly networks: Network[];

  constructor(list: readonly string[] | null) {
    this.networks = (list ?? []).map((entry) => parseNetwork(entry)).filter((n): n is Network => n !== null);
  }

  /** No proxy is trusted: the socket's peer is always the client, and no header is read. */
  get isEmpty(): boolean {
    return this.networks.length === 0;
  }

  has(bytes: Bytes): boolean {
    return this.networks.some((network) => masked(bytes, network.bits).every((byte, i) => byte === network.bytes[i]));
  }
}

/** Whether `peer` (a socket's remote address) is one of the trusted proxies. */
export function isTrustedPeer(peer: string | undefined, trusted: TrustedProxies): boolean {
  if (trusted.isEmpty) return false;
  const bytes = parseAddress(peer ?? '');
  return bytes !== null && trusted.has(bytes);
}

/**
 * One X-Forwarded-For entry as an address. Proxies write bare addresses, but some add a
 * port (`192.0.2.1:4711`, `[2001:db8::1]:4711`) or brackets; anything else is null.
 */
function forwardedEntry(entry: string): Bytes | null {
  const text = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed !== null) return parseV6(bracketed[1]!);
  const v4WithPort = /^([\d.]+):\d+$/.exec(text);
  return parseAddress(v4WithPort === null ? text : v4WithPort[1]!);
}

/**
 * The client's address, as text (`192.0.2.1`, `2001:db8::1`): the socket's peer, unless the
 * peer is a trusted proxy; then the rightmost X-Forwarded-For entry that is not one. An
 * entry that is no address ends the walk: the last trusted hop is the best we know.
 * `forwardedFor` is the header as Node gives it (repeated headers joined with `, `).
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trusted: TrustedProxies,
): string {
  const peerBytes = parseAddress(peer ?? '');
  // No peer address (a socket already gone): one shared key, rather than none.
  if (peerBytes === null) return peer ?? 'unknown';
  if (trusted.isEmpty || forwardedFor === undefined || !trusted.has(peerBytes)) return formatAddress(peerBytes);
  const entries = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  let client = peerBytes;
  for (let i = entries.length - 1; i >= 0; i--) {
    const hop = forwardedEntry(entries[i]!);
    if (hop === null) break;
    client = hop;
    if (!trusted.has(hop)) break;
  }
  return formatAddress(client);
}

/**
 * What per-address limits count by: an IPv4 address itself, an IPv6 address's /64
 * (`2001:db8:1:2::/64`; see IPV6_GROUP_BITS). Text that is no address is its own key.
 */
export function addressKey(address: string): string {
  const bytes = parseAddress(address);
  if (bytes === null || isV4(bytes)) return address;
  return `${formatAddress(masked(bytes, IPV6_GROUP_BITS))}/${IPV6_GROUP_BITS}`;
}

/** The /48 an IPv6 key (`…/64`, from addressKey) belongs to, as a key of its own; null for anything else. */
export function siteKey(key: string): string | null {
  const suffix = `/${IPV6_GROUP_BITS}`;
  if (!key.endsWith(suffix)) return null;
  const bytes = parseAddress(key.slice(0, -suffix.length));
  if (bytes === null || isV4(bytes)) return null;
  return `${formatAddress(masked(bytes, IPV6_SITE_BITS))}/${IPV6_SITE_BITS}`;
}
