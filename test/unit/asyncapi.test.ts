/**
 * docs/asyncapi.yaml against the code: a valid AsyncAPI 3.0 document, a message for every
 * frame type the server can send and for nothing else, every error code with its text,
 * every close code, and client schemas that accept exactly what the server reads as a
 * registration or a chat message. The socket tests check real frames against it too
 * (test/support/frame-contract.ts); the last tests here show that check can fail.
 */
import type { AsyncAPIDocumentInterface, MessageInterface } from '@asyncapi/parser';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ServerFrame } from '../../src/frames.js';
import { closeCodes, errors, type ErrorCode } from '../../src/errors.js';
import { chatFrame, echoFrame, errorFrame, readClientFrame, replayed, welcomeFrame } from '../../src/protocol.js';
import {
  errorDiagnostics,
  operationMessages,
  parseProtocolDocument,
  payloadSchema,
  serverFrameSchemas,
  type JsonSchema,
} from '../support/asyncapi.js';
import {
  assertServerFrame,
  createServerFrameCheck,
  ServerFrameMismatch,
  takeMismatches,
  type ServerFrameCheck,
} from '../support/frame-contract.js';

const AT = 1_764_000_000_000;
const said = { type: 'message', name: 'Alice', from: 'c1', session: 's1', text: 'Hello', ts: AT } as const;
const others = chatFrame(said, 42, AT);
const session = { session: 'cXVpdGUgYSBzZWNyZXQ', epoch: 'e1' };

/**
 * Frames made by the server's own builders, every type it can send. The compiler fails
 * here when ServerFrame gains a type, until this list (and so the document) has it.
 */
const builtFrames = {
  welcome: [
    welcomeFrame('Alice', ['Bob', 'Alice'], { ...session, id: '7', ts: AT }),
    welcomeFrame('Alice', ['Bob', 'Alice'], { ...session, resumed: true, recovered: true }),
    // A resumed session is online until it ends, so `users` always holds its own name.
    welcomeFrame('Alice', ['Alice'], { ...session, resumed: true, recovered: false }),
  ],
  join: [
    chatFrame({ type: 'join', name: 'Alice', from: 'c1', session: 's1' }, 1, AT),
    replayed(chatFrame({ type: 'join', name: 'Alice', from: 'c1', session: 's1' }, 1, AT)),
  ],
  leave: [
    chatFrame({ type: 'leave', name: 'Alice', from: 'c1', session: 's1' }, 2, AT),
    replayed(chatFrame({ type: 'leave', name: 'Alice', from: 'c1', session: 's1' }, 2, AT)),
  ],
  message: [
    others,
    echoFrame(others, 'anonymous', undefined)!,
    echoFrame(others, 'named', undefined)!,
    echoFrame(others, 'anonymous', 'k-1')!,
    replayed(others),
    replayed(echoFrame(others, 'anonymous', 'k-1')!),
    echoFrame(others, 'named', 'k-1')!,
    // The longest cid a client may send: 64 code points, none of them in the BMP.
    echoFrame(others, 'anonymous', '😀'.repeat(64))!,
  ],
  error: (Object.keys(errors) as ErrorCode[]).map(errorFrame),
} satisfies Record<ServerFrame['type'], ServerFrame[]>;

let document: AsyncAPIDocumentInterface;
let schemas: Record<string, JsonSchema>;
let check: ServerFrameCheck;

beforeAll(async () => {
  const parsed = await parseProtocolDocument();
  // Every error, not just the first: the document is fixed in one go.
  expect(errorDiagnostics(parsed.diagnostics)).toEqual([]);
  document = parsed.document!;
  schemas = serverFrameSchemas(document);
  check = createServerFrameCheck(schemas);
});

const ajv = () => new Ajv({ allErrors: true, allowUnionTypes: true });
const messageNamed = (action: 'send' | 'receive', name: string): MessageInterface => {
  const message = operationMessages(document, action).find((candidate) => candidate.name() === name);
  if (message === undefined) throw new Error(`no ${action} message named ${name}`);
  return message;
};

describe('docs/asyncapi.yaml', () => {
  it('is an AsyncAPI 3.0 document that parses without errors', () => {
    expect(document.version()).toBe('3.0.0');
    const channel = document.channels().all()[0]!;
    expect(channel.address()).toBe('/ws');
    expect(
      channel
        .servers()
        .all()
        .map((server) => [server.host(), server.protocol()]),
    ).toEqual([['localhost:8080', 'ws']]);
  });

  it('has a server message for exactly the frame types the server sends', () => {
    expect(Object.keys(schemas).sort()).toEqual(Object.keys(builtFrames).sort());
  });

  it('accepts every frame the server builds', () => {
    for (const [type, frames] of Object.entries(builtFrames)) {
      for (const frame of frames) {
        expect(frame.type).toBe(type);
        check(frame);
      }
    }
  });

  it('lists exactly the error codes, each with the text the server sends', () => {
    const error = schemas.error as {
      properties: { code: { enum: string[] } };
      oneOf: { properties: { code: { const: string }; text: { const: string } } }[];
    };
    expect([...error.properties.code.enum].sort()).toEqual(Object.keys(errors).sort());
    const texts = Object.fromEntries(
      error.oneOf.map(({ properties }) => [properties.code.const, properties.text.const]),
    );
    expect(texts).toEqual(Object.fromEntries(Object.entries(errors).map(([code, { text }]) => [code, text])));
  });

  it('lists exactly the close codes the server uses', () => {
    const listed = document.channels().all()[0]!.extensions().get('x-close-codes')?.value() as Record<string, string>;
    const byNumber = (a: number, b: number) => a - b;
    expect(Object.keys(listed).map(Number).sort(byNumber)).toEqual(Object.values(closeCodes).sort(byNumber));
  });

  it("matches every message's examples", () => {
    const messages = [...operationMessages(document, 'send'), ...operationMessages(document, 'receive')];
    for (const message of messages) {
      const validate = ajv().compile(payloadSchema(message));
      const examples = message.examples().all();
      expect(examples.length, `examples of ${message.name()}`).toBeGreaterThan(0);
      for (const example of examples) {
        expect(validate(example.payload()), `${message.name()}: ${JSON.stringify(validate.errors)}`).toBe(true);
      }
    }
  });

  it('client messages accept exactly the frames the server reads as a registration, a resume or a chat message', () => {
    const isRegistration = ajv().compile(payloadSchema(messageNamed('send', 'registration')));
    const isResume = ajv().compile(payloadSchema(messageNamed('send', 'resume')));
    const isChatMessage = ajv().compile(payloadSchema(messageNamed('send', 'chatMessage')));
    // Mostly well-typed, so that frames with several fields right and one wrong are common.
    const field = fc.oneof(
      { arbitrary: fc.string(), weight: 6 },
      { arbitrary: fc.constant(null), weight: 2 },
      fc.integer(),
      fc.boolean(),
      fc.array(fc.string(), { maxLength: 2 }),
      fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }),
    );
    // `history` must be a whole number from 0 up to 2^53 - 1: the edges and what lies past them.
    const count = fc.oneof(
      { arbitrary: fc.nat(), weight: 4 },
      field,
      fc.double(),
      fc.constantFrom(0, -0, -1, 0.5, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, 1e300),
    );
    const frame = fc.oneof(
      fc.record(
        {
          sender: field,
          text: field,
          session: field,
          epoch: field,
          since: field,
          history: count,
          cid: field,
          colour: fc.jsonValue(),
        },
        { requiredKeys: [] },
      ),
      fc.jsonValue(),
    );
    fc.assert(
      fc.property(frame, (sent) => {
        const data = JSON.stringify(sent);
        const event = readClientFrame(data, 0);
        const value: unknown = JSON.parse(data);
        const read = event.type === 'client.frame';
        // A first frame naming a session is a resume, whatever else it holds.
        expect(isResume(value)).toBe(read && event.session !== undefined);
        expect(isRegistration(value)).toBe(read && event.session === undefined && event.sender !== undefined);
        expect(isChatMessage(value)).toBe(read && event.text !== undefined);
      }),
      {
        numRuns: 500,
        examples: [
          [{ sender: 'Alice', text: '', session: 'x' }],
          [{ sender: 'Alice', text: '', session: null, history: 5 }],
          [{ session: 'x', since: '41', epoch: 'e' }],
          [{ sender: 'Alice', history: Number.MAX_SAFE_INTEGER }],
          [{ sender: 'Alice', history: Number.MAX_SAFE_INTEGER + 1 }],
          [{ sender: 'Alice', history: -1 }],
          [{ sender: 'Alice', history: 2.5 }],
          [{ text: 'Hello', cid: 7 }],
          [{ text: 'Hello', since: 41 }],
        ],
      },
    );
  });
});

describe('the server frame check', () => {
  const welcome = builtFrames.welcome[0]!;
  it.each<[string, unknown, string]>([
    ['an unknown field', { ...welcome, extra: 1 }, 'additionalProperty'],
    ['a missing field', { type: 'welcome', sender: 'Server', text: 'Welcome, Alice!', name: 'Alice' }, 'users'],
    ['a notice not from Server', { ...builtFrames.join[0]!, sender: 'Alice' }, 'allowedValue'],
    ['an id that is not a decimal integer', { ...others, id: '4a' }, 'pattern'],
    ['a numeric id', { ...others, id: 42 }, 'string'],
    ['a fractional ts', { ...others, ts: 1.5 }, 'integer'],
    [
      'a join without its position',
      { type: 'join', sender: 'Server', text: 'Alice has joined the chat', name: 'Alice' },
      'id',
    ],
    ['a replay marked false', { ...others, replay: false }, 'allowedValue'],
    ['recovered without resumed', { ...welcome, recovered: true }, 'resumed'],
    ['a welcome without its session', { ...welcome, session: undefined }, 'session'],
    ['a cid over 64 code points', { ...others, cid: 'k'.repeat(65) }, '64 characters'],
    ['an unknown error code', { ...errorFrame('name_taken'), code: 'oops' }, 'allowedValues'],
    ['an error code with another code’s text', { ...errorFrame('name_taken'), code: 'bad_frame' }, 'oneOf'],
    ['an unknown frame type', { type: 'typing', sender: 'Server', text: '' }, 'must be one of'],
    ['a frame that is not an object', 'hello', 'has no message'],
  ])('refuses %s, naming the frame and the schema error', (_, frame, detail) => {
    expect(() => check(frame)).toThrow(ServerFrameMismatch);
    expect(() => check(frame)).toThrow(JSON.stringify(frame));
    expect(() => check(frame)).toThrow(detail);
  });

  it('as the harness runs it, throws and keeps the mismatch so that the test fails even if unread', () => {
    assertServerFrame(welcome, 'Alice');
    expect(() => assertServerFrame({ ...welcome, extra: 1 }, 'Alice')).toThrow(/^Alice: server frame/);
    // Taken here, so that this test passes; frame-contract-setup.ts would fail it otherwise.
    expect(takeMismatches().map((err) => err.message)).toEqual([expect.stringContaining('additionalProperty')]);
  });
});
