/**
 * /metrics over real sockets: every figure the README lists moves when, and only as much
 * as, the thing it counts happens.
 */
import { describe, expect, it } from 'vitest';
import { error, join, leave, message } from '../support/expected.js';
import { parseMetrics, sample, type Samples } from '../support/metrics-text.js';
import { claim, serverPerTest, type TestServer } from '../support/test-server.js';

const start = serverPerTest();
/** §4 as it was: a lost connection's leave at once, no session kept (RESUME_WINDOW_MS=0; SPEC §8). */
const LEAVE_AT_ONCE = { resumeWindowMs: 0 };

async function scrape(server: TestServer): Promise<Samples> {
  const res = await server.get('/metrics');
  expect(res.status).toBe(200);
  return parseMetrics(await res.text());
}

describe('/metrics', () => {
  it('answers in Prometheus text format with the process metrics and event-loop delay', async () => {
    const server = await start();
    const res = await server.get('/metrics');
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parseMetrics(await res.text());
    for (const series of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_p99_seconds',
      'chat_connections{state="awaitingName"}',
      'chat_connections{state="registered"}',
      'chat_slow_consumer_kicks_total',
      'chat_registrations_refused_total{reason="name_taken"}',
      'chat_errors_total{code="rate_limited"}',
    ]) {
      expect(sample(samples, series), series).toBeGreaterThanOrEqual(0);
    }
  });

  it('counts connections by state, registrations, errors, messages, deliveries, leaves and closes', async () => {
    const server = await start({ rateBurst: 1, ratePerSec: 1 });
    const alice = await server.register('Alice'); // 1 delivery: her welcome
    const bob = await server.connect({ label: 'Bob' });
    bob.send({ sender: 'alice', text: '' });
    expect(await bob.nextFrame()).toEqual(error('name_taken'));
    bob.send({ sender: 'Server', text: '' });
    expect(await bob.nextFrame()).toEqual(error('invalid_name'));
    await claim(bob, 'Bob'); // 2 deliveries: Bob's welcome, Alice's copy of his join
    expect(await alice.nextFrame()).toEqual(join('Bob'));
    await server.connect({ label: 'Lurker' }); // stays in awaitingName

    alice.send({ text: 'hi' }); // 2 deliveries: Bob's copy, Alice's own
    alice.send({ text: 'again' }); // over the rate: an error, no delivery
    expect((await alice.nextFrame()).type).toBe('message');
    expect(await alice.nextFrame()).toEqual(error('rate_limited'));
    expect(await bob.nextFrame()).toEqual(message('Alice', 'hi'));

    let samples = await scrape(server);
    expect(sample(samples, 'chat_connections{state="awaitingName"}')).toBe(1);
    expect(sample(samples, 'chat_connections{state="registered"}')).toBe(2);
    expect(sample(samples, 'chat_connections_opened_total')).toBe(3);
    expect(sample(samples, 'chat_registrations_accepted_total')).toBe(2);
    expect(sample(samples, 'chat_registrations_refused_total{reason="name_taken"}')).toBe(1);
    expect(sample(samples, 'chat_registrations_refused_total{reason="invalid_name"}')).toBe(1);
    expect(sample(samples, 'chat_registrations_refused_total{reason="server_unavailable"}')).toBe(0);
    expect(sample(samples, 'chat_errors_total{code="name_taken"}')).toBe(1);
    expect(sample(samples, 'chat_errors_total{code="invalid_name"}')).toBe(1);
    expect(sample(samples, 'chat_errors_total{code="rate_limited"}')).toBe(1);
    expect(sample(samples, 'chat_errors_total{code="bad_frame"}')).toBe(0);
    expect(sample(samples, 'chat_messages_received_total')).toBe(1);
    expect(sample(samples, 'chat_deliveries_total')).toBe(5);
    expect(sample(samples, 'chat_leaves_total{cause="close"}')).toBe(0);

    bob.close(1000);
    expect(await alice.nextFrame()).toEqual(leave('Bob')); // 1 delivery
    samples = await scrape(server);
    expect(sample(samples, 'chat_connections{state="registered"}')).toBe(1);
    expect(sample(samples, 'chat_leaves_total{cause="close"}')).toBe(1);
    expect(sample(samples, 'chat_connections_closed_total{code="1000"}')).toBe(1);
    expect(sample(samples, 'chat_deliveries_total')).toBe(6);
    expect(sample(samples, 'chat_slow_consumer_kicks_total')).toBe(0);
  });

  it('counts close codes a client chose from the application range as "other", so no client adds series', async () => {
    const server = await start(LEAVE_AT_ONCE);
    const alice = await server.register('Alice');
    for (const [name, code] of [
      ['Bob', 4321],
      ['Carol', 3999],
    ] as const) {
      const client = await server.register(name);
      expect(await alice.nextFrame()).toEqual(join(name));
      client.close(code);
      expect(await alice.nextFrame()).toEqual(leave(name));
    }
    const samples = await scrape(server);
    expect(sample(samples, 'chat_connections_closed_total{code="other"}')).toBe(2);
    expect([...samples.keys()].filter((series) => /code="(4321|3999)"/.test(series))).toEqual([]);
  });

  it('counts a policy close by its code, and no leave for a client that never registered', async () => {
    const server = await start({ registerTimeoutMs: 50 });
    const client = await server.connect();
    expect((await client.waitClose()).code).toBe(1008);
    const samples = await scrape(server);
    expect(sample(samples, 'chat_connections_closed_total{code="1008"}')).toBe(1);
    expect(sample(samples, 'chat_connections{state="awaitingName"}')).toBe(0);
    expect(sample(samples, 'chat_leaves_total{cause="policy"}')).toBe(0);
  });

  it('counts a client closed for a too-big frame as a policy leave, not as one that closed', async () => {
    const server = await start({ maxPayloadBytes: 1024 });
    const alice = await server.register('Alice');
    const bob = await server.register('Bob');
    alice.send({ text: 'x'.repeat(2048) });
    expect((await alice.waitClose()).code).toBe(1009);
    expect(await bob.nextFrame()).toEqual(leave('Alice'));
    const samples = await scrape(server);
    expect(sample(samples, 'chat_leaves_total{cause="policy"}')).toBe(1);
    expect(sample(samples, 'chat_leaves_total{cause="close"}')).toBe(0);
  });

  it('keeps one set of figures per server', async () => {
    const first = await start();
    const second = await start();
    await first.register('Alice');
    expect(sample(await scrape(first), 'chat_registrations_accepted_total')).toBe(1);
    expect(sample(await scrape(second), 'chat_registrations_accepted_total')).toBe(0);
  });
});
