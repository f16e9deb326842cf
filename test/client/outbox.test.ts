import { describe, expect, it } from 'vitest';
import { Outbox } from '../../client/outbox.js';

describe('client outbox', () => {
  it('keeps messages in send order until each is settled, by cid', async () => {
    const outbox = new Outbox<string>(3);
    const a = outbox.add('a', 'first');
    const b = outbox.add('b', 'second');
    expect(outbox.first()).toMatchObject({ cid: 'a', text: 'first', written: false });
    expect(outbox.confirm('b', 'copy of b')).toBe(true);
    expect(outbox.first()?.cid).toBe('a');
    expect(outbox.confirm('b', 'again')).toBe(false);
    expect(outbox.fail('a', new Error('refused'))).toBe(true);
    await expect(b).resolves.toBe('copy of b');
    await expect(a).rejects.toThrow('refused');
    expect(outbox.size).toBe(0);
    expect(outbox.first()).toBeUndefined();
  });

  it('holds at most `limit` messages', () => {
    const outbox = new Outbox<string>(2);
    void outbox.add('a', 'x');
    void outbox.add('b', 'y');
    expect(outbox.full).toBe(true);
    expect(() => outbox.add('c', 'z')).toThrow(RangeError);
    outbox.confirm('a', 'copy');
    expect(outbox.full).toBe(false);
    expect(() => new Outbox(0)).toThrow(/outboxLimit/);
  });

  it('tells written messages from those that never left, and fails a chosen few', async () => {
    const outbox = new Outbox<string>(5);
    const written = outbox.add('a', 'x');
    const waiting = outbox.add('b', 'y');
    outbox.markWritten('a');
    outbox.failWhere(
      (message) => new Error(`lost ${message.cid}`),
      (message) => message.written,
    );
    await expect(written).rejects.toThrow('lost a');
    expect(outbox.has('b')).toBe(true);
    outbox.failWhere(() => new Error('closed'));
    await expect(waiting).rejects.toThrow('closed');
  });
});
