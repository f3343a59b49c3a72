// Property-based fuzzing of every route of SPEC §2/§3 over app.inject: bodies, content types, Authorization
// headers and path ids. The property (SPEC §7): nothing a client sends yields a 5xx, and every 4xx is the
// `{error, code}` envelope with a catalogued code and its status.
//
// The run is seeded: without FUZZ_SEED it fuzzes twice, with the fixed seed FIXED_SEED (the same inputs on every
// run) and with a fresh random seed, printed in the suite's name; FUZZ_SEED=<n> runs that one seed only (a
// replay). FUZZ_RUNS=<n> changes the runs per route (default 150), and FUZZ_ROUTE='<METHOD> <path>' with
// FUZZ_PATH=<path> replays one counterexample of one route (a failure prints all three). Each route's run must
// both accept some inputs (2xx) and refuse some (4xx): a route that refuses everything fails its test, however
// well-formed its refusals; one known-valid request per route opens every run, so that this does not hang on luck. The fuzzing account's state carries over from run to run, so a replay of one route alone may see
// a different account state; the counterexample printed is the request itself.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc, { type JsonValue } from 'fast-check';
import type { FastifyInstance, HTTPMethods } from 'fastify';
import { ERRORS, wireCode, type ErrorCode } from '../../src/errors.js';
import { bearer, makeApp, PASSWORD, signUpAndLogin, uniqueName, type TestApp } from '../helpers/app.js';
import { sidOf, type Reply } from './http-helpers.js';

function envInt(name: string, fallback: () => number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback();
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  return value;
}

/** The seed every run fuzzes with, so that CI always covers the same inputs besides the fresh ones. */
const FIXED_SEED = 20_260_501;
const SEEDS =
  process.env.FUZZ_SEED === undefined || process.env.FUZZ_SEED === ''
    ? [FIXED_SEED, randomInt(2 ** 31)]
    : [envInt('FUZZ_SEED', () => FIXED_SEED)];
const RUNS = envInt('FUZZ_RUNS', () => 150);
const ONLY_ROUTE = process.env.FUZZ_ROUTE;
const REPLAY_PATH = process.env.FUZZ_PATH;

// ---------------------------------------------------------------------------------------------------------------
// What a run sends. Tokens, passwords and names that exist only at run time are references, resolved just before
// the request against the fuzzing account's current state.

type Ref =
  | { ref: 'access' }
  | { ref: 'mutatedAccess'; at: number; char: string }
  | { ref: 'refresh' }
  | { ref: 'mutatedRefresh'; at: number; char: string }
  | { ref: 'ownName' }
  | { ref: 'ownPassword' }
  | { ref: 'witnessName' };

type Value = { json: JsonValue } | Ref;

type Body =
  | { kind: 'none' }
  | { kind: 'text'; text: string }
  | { kind: 'json'; value: JsonValue }
  /** An object written member by member (duplicate and `__proto__` keys kept), optionally cut short. */
  | { kind: 'fields'; entries: [string, Value][]; cut: number | undefined };

type Auth =
  | { kind: 'none' }
  | { kind: 'raw'; value: string }
  | { kind: 'scheme'; scheme: string; gap: string; token: Value; suffix: string };

type PathId = { kind: 'sid'; whose: 'own' | 'witness' } | { kind: 'text'; value: string; encode: boolean };

interface Input {
  auth: Auth;
  contentType: string | undefined;
  body: Body;
  id: PathId;
  userAgent: string | undefined;
}

interface Route {
  method: HTTPMethods;
  path: string;
  /** Body members of the route's schema, fuzzed as near-valid values. */
  fields: readonly string[];
  /** Whether a live access token presented here is consumed (so that the state follows it). */
  consumesAccess: boolean;
}

const ROUTES: readonly Route[] = [
  { method: 'POST', path: '/user', fields: ['username', 'password'], consumesAccess: false },
  { method: 'GET', path: '/user', fields: [], consumesAccess: true },
  {
    method: 'PUT',
    path: '/user',
    fields: ['username', 'password', 'current_password'],
    consumesAccess: true,
  },
  { method: 'POST', path: '/authenticate_user', fields: ['username', 'password'], consumesAccess: false },
  { method: 'POST', path: '/validate_token', fields: ['token'], consumesAccess: true },
  { method: 'POST', path: '/refresh_token', fields: ['refresh_token'], consumesAccess: false },
  { method: 'GET', path: '/sessions', fields: [], consumesAccess: true },
  { method: 'DELETE', path: '/sessions/:id', fields: [], consumesAccess: true },
  { method: 'POST', path: '/logout', fields: ['token'], consumesAccess: true },
  { method: 'POST', path: '/logout_all', fields: [], consumesAccess: true },
  { method: 'DELETE', path: '/user', fields: [], consumesAccess: true },
];

// ---------------------------------------------------------------------------------------------------------------
// Arbitraries.

/** Header text as an HTTP parser hands it over: visible ASCII, space, tab and obs-text (latin1). */
const headerChar = fc.oneof(
  { weight: 20, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
  { weight: 1, arbitrary: fc.constant(0x09) },
  { weight: 2, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
);
const headerText = (maxLength: number) =>
  fc.string({ unit: headerChar.map((code) => String.fromCharCode(code)), maxLength });

const TRICKY_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\ud800',
  'a\udfffb',
  '\u202euser',
  'ｕｓｅｒｎａｍｅ',
  'ﬁﬁﬁﬁ',
  'İİİİ',
  'ß'.repeat(64),
  `a${'\u0301'.repeat(300)}`,
  '𝒜𝒜𝒜𝒜',
  'null',
  'undefined',
  'true',
  '[object Object]',
  '__proto__',
  'constructor',
  '<script>',
  "' OR 1=1 --",
  '${jndi:x}',
];

const unicodeText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'binary-ascii', maxLength: 40 }),
  fc.constantFrom(...TRICKY_STRINGS),
);

/** Long strings: some fit under the 64 KiB body limit but over the schema limits, some do not. */
const hugeText = fc
  .tuple(fc.constantFrom('x', 'é', '💥', '\\', '"', '\u0000'), fc.integer({ min: 300, max: 70 * 1024 }))
  .map(([unit, count]) => unit.repeat(count));

const numberAsString = fc.oneof(
  fc.integer().map(String),
  fc.double().map(String),
  fc.constantFrom('12345678', '1e309', '-0', '0x10', '00000001'),
);

const wrongType: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom<JsonValue>({}, [], { length: 1, 0: 'x' }, { toString: 'x' }),
);

const jsonValue = (text: fc.Arbitrary<string>): fc.Arbitrary<Value> => text.map((json) => ({ json }));

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A character that replaces one character of a real token. */
const mutationChar = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom(...BASE64URL.split('')),
  },
  { weight: 1, arbitrary: fc.constantFrom('.', '=', '+', '/', ' ', '%', '\u0000', 'é', '☃') },
);
const mutation = fc.record({ at: fc.nat(), char: mutationChar });

const accessToken: fc.Arbitrary<Value> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<Ref>({ ref: 'access' }) },
  { weight: 4, arbitrary: mutation.map((m): Ref => ({ ref: 'mutatedAccess', ...m })) },
  { weight: 1, arbitrary: fc.constant<Ref>({ ref: 'refresh' }) },
  { weight: 2, arbitrary: jsonValue(headerText(120)) },
  { weight: 1, arbitrary: jsonValue(hugeText) },
);

const refreshToken: fc.Arbitrary<Value> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Ref>({ ref: 'refresh' }) },
  { weight: 3, arbitrary: mutation.map((m): Ref => ({ ref: 'mutatedRefresh', ...m })) },
  { weight: 1, arbitrary: fc.constant<Ref>({ ref: 'access' }) },
  { weight: 2, arbitrary: jsonValue(headerText(120)) },
  { weight: 1, arbitrary: jsonValue(hugeText) },
);

const username: fc.Arbitrary<Value> = fc.oneof(
  { weight: 3, arbitrary: jsonValue(fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_.-]{3,20}$/)) },
  { weight: 1, arbitrary: fc.constantFrom<Ref>({ ref: 'ownName' }, { ref: 'witnessName' }) },
);

const password: fc.Arbitrary<Value> = fc.oneof(
  { weight: 2, arbitrary: jsonValue(fc.string({ unit: 'grapheme', minLength: 8, maxLength: 40 })) },
  {
    weight: 1,
    arbitrary: jsonValue(fc.constantFrom('correct horse battery staple', 'password', '12345678')),
  },
  { weight: 2, arbitrary: fc.constant<Ref>({ ref: 'ownPassword' }) },
);

const NEAR_VALID: Record<string, fc.Arbitrary<Value>> = {
  username,
  password,
  current_password: password,
  token: accessToken,
  refresh_token: refreshToken,
};

/** A value for a member of the schema: mostly right, often of the wrong type, size or encoding. */
function fieldValue(field: string): fc.Arbitrary<Value> {
  const valid = NEAR_VALID[field] ?? jsonValue(fc.string({ maxLength: 20 }));
  return fc.oneof(
    { weight: 10, arbitrary: valid },
    { weight: 2, arbitrary: wrongType.map((json) => ({ json })) },
    { weight: 2, arbitrary: jsonValue(unicodeText) },
    { weight: 1, arbitrary: jsonValue(hugeText) },
    { weight: 1, arbitrary: jsonValue(numberAsString) },
  );
}

const POLLUTION_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty'];
const extraKey = fc.oneof(
  fc.constantFrom(...POLLUTION_KEYS, 'isAdmin', 'user_id', 'id', 'token', 'username', 'password', ''),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
);
const extraValue: fc.Arbitrary<Value> = fc.oneof(
  wrongType.map((json) => ({ json })),
  fc.constantFrom<Value>(
    { json: { isAdmin: true } },
    { json: { prototype: { isAdmin: true } } },
    // JSON.parse makes `__proto__` an own member (an object literal would set the prototype instead).
    { json: JSON.parse('{"__proto__":{"isAdmin":true}}') as JsonValue },
    { json: JSON.parse('{"constructor":{"prototype":{"isAdmin":true}}}') as JsonValue },
  ),
);

function fieldsBody(fields: readonly string[]): fc.Arbitrary<Body> {
  const members = fc.tuple(
    ...fields.map((field) =>
      fc.option(
        fieldValue(field).map((value): [string, Value] => [field, value]),
        { nil: undefined, freq: 4 },
      ),
    ),
  );
  return fc
    .record({
      members,
      extra: fc.array(fc.tuple(extraKey, extraValue), { maxLength: 3 }),
      extraFirst: fc.boolean(),
      // fc.option's freq is the odds of nil (1 in freq): most bodies are whole.
      cut: fc.oneof({ weight: 7, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.nat() }),
    })
    .map(({ members, extra, extraFirst, cut }): Body => {
      const own = members.filter((member) => member !== undefined);
      return { kind: 'fields', entries: extraFirst ? [...extra, ...own] : [...own, ...extra], cut };
    });
}

const garbageText = fc.oneof(
  headerText(80),
  unicodeText,
  fc.integer({ min: 1, max: 10_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc.integer({ min: 1, max: 10_000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
  fc.constantFrom(
    '{',
    '}',
    '{"a":1,}',
    "{'a':1}",
    '{"a":01}',
    '{"a":NaN}',
    '\ufeff{}',
    '{}garbage',
    '\u0000',
  ),
);

function body(fields: readonly string[]): fc.Arbitrary<Body> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant<Body>({ kind: 'none' }) },
    { weight: 6, arbitrary: fieldsBody(fields) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value): Body => ({ kind: 'json', value })) },
    { weight: 2, arbitrary: garbageText.map((text): Body => ({ kind: 'text', text })) },
  );
}

const contentType = fc.oneof(
  { weight: 16, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'application/json; charset=utf-16',
      'application/json;charset=latin1',
      'APPLICATION/JSON',
      ' application/json ',
      'application/json, text/plain',
      'application/jsonx',
      'application/vnd.api+json',
      'application/merge-patch+json',
      'text/plain',
      'text/json',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=----x',
      'application/octet-stream',
      '*/*',
      '',
    ),
  },
  { weight: 1, arbitrary: headerText(60) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const auth: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<Auth>({ kind: 'none' }) },
  { weight: 1, arbitrary: headerText(120).map((value): Auth => ({ kind: 'raw', value })) },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('scheme' as const),
      scheme: fc.oneof(
        { weight: 10, arbitrary: fc.constant('Bearer') },
        {
          weight: 3,
          arbitrary: fc.constantFrom(
            'bearer',
            'BEARER',
            'BeArEr',
            'Basic',
            'Token',
            'JWT',
            'Bearer:',
            'Bearer,',
          ),
        },
      ),
      gap: fc.oneof({ weight: 8, arbitrary: fc.constant(' ') }, fc.constantFrom('', '  ', '\t', ' \t ')),
      token: accessToken,
      suffix: fc.oneof(
        { weight: 16, arbitrary: fc.constant('') },
        fc.constantFrom(' ', ' extra', ',x', '\t.'),
      ),
    }),
  },
);

const pathId: fc.Arbitrary<PathId> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.constantFrom<PathId>({ kind: 'sid', whose: 'own' }, { kind: 'sid', whose: 'witness' }),
  },
  {
    weight: 3,
    arbitrary: fc
      .oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 }))
      .map((value): PathId => ({ kind: 'text', value, encode: true })),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
        fc.constantFrom(
          '%',
          '%zz',
          '%00',
          '%ED%A0%80',
          '%C0%AF',
          '..%2F..%2Fetc%2Fpasswd',
          '../../etc/passwd',
          '__proto__',
          'constructor',
          '*',
        ),
        fc.integer({ min: 100, max: 400 }).map((count) => 'a'.repeat(count)),
      )
      .map((value): PathId => ({ kind: 'text', value, encode: false })),
  },
);

function input(route: Route): fc.Arbitrary<Input> {
  return fc.record({
    auth,
    contentType,
    body: body(route.fields),
    id: pathId,
    userAgent: fc.option(headerText(600), { nil: undefined, freq: 3 }),
  });
}

/** One request each route must accept (2xx) from the fuzzing account's state, run first in every fuzz run. */
function validInput(route: Route): Input {
  const bearerAccess: Auth = {
    kind: 'scheme',
    scheme: 'Bearer',
    gap: ' ',
    token: { ref: 'access' },
    suffix: '',
  };
  const none: Body = { kind: 'none' };
  const fields = (entries: [string, Value][]): Body => ({ kind: 'fields', entries, cut: undefined });
  const base = { contentType: undefined, id: { kind: 'sid', whose: 'own' }, userAgent: undefined } as const;
  const json = { ...base, contentType: 'application/json' };
  switch (`${route.method} ${route.path}`) {
    case 'POST /user':
      return {
        ...json,
        auth: { kind: 'none' },
        body: fields([
          ['username', { json: uniqueName('fz') }],
          ['password', { json: PASSWORD }],
        ]),
      };
    case 'PUT /user':
      // Every change needs current_password (SPEC §8): renaming to the own name changes nothing and is a 200.
      return {
        ...json,
        auth: bearerAccess,
        body: fields([
          ['username', { ref: 'ownName' }],
          ['current_password', { ref: 'ownPassword' }],
        ]),
      };
    case 'POST /authenticate_user':
      return {
        ...json,
        auth: { kind: 'none' },
        body: fields([
          ['username', { ref: 'ownName' }],
          ['password', { ref: 'ownPassword' }],
        ]),
      };
    case 'POST /validate_token':
      return { ...json, auth: { kind: 'none' }, body: fields([['token', { ref: 'access' }]]) };
    case 'POST /refresh_token':
      return { ...json, auth: { kind: 'none' }, body: fields([['refresh_token', { ref: 'refresh' }]]) };
    default:
      return { ...base, auth: bearerAccess, body: none };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The fuzzing account: one user whose current access and refresh tokens follow every response, so that most runs
// present a live token and reach the handlers behind authentication. When it is lost (logged out, deleted,
// renamed past tracking) the next run logs in again, or signs up a new account.

interface Account {
  username: string;
  password: string;
  access: string | undefined;
  refresh: string | undefined;
}

interface Presented {
  exactAccess: boolean;
  mutatedAccess: boolean;
  exactRefresh: boolean;
}

function mutate(text: string, at: number, char: string): string {
  const index = at % text.length;
  return `${text.slice(0, index)}${char}${text.slice(index + 1)}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class Fuzzer {
  account: Account | undefined;
  witness: { username: string; password: string; token: string; sid: string } | undefined;
  /** Responses by status and code, reported per route to show how far the runs got past validation and auth. */
  readonly seen = new Map<string, number>();
  logins = 0;
  signups = 0;

  constructor(private readonly app: FastifyInstance) {}

  /** Makes sure the account has a live access and refresh token before a run. */
  async ready(): Promise<Account> {
    const account = this.account;
    if (account?.access !== undefined && account.refresh !== undefined) return account;
    if (account !== undefined) {
      this.logins += 1;
      const res = await this.app.inject({
        method: 'POST',
        url: '/authenticate_user',
        payload: { username: account.username, password: account.password },
      });
      if (res.statusCode === 200) {
        const body = res.json<{ token: string; refresh_token: string }>();
        account.access = body.token;
        account.refresh = body.refresh_token;
        return account;
      }
    }
    this.signups += 1;
    const fresh = await signUpAndLogin(this.app);
    this.account = {
      username: fresh.username,
      password: PASSWORD,
      access: fresh.token,
      refresh: fresh.refreshToken,
    };
    return this.account;
  }

  async run(route: Route, given: Input): Promise<void> {
    const account = await this.ready();
    const witness = this.witness;
    assert.ok(witness !== undefined);
    const access = account.access ?? '';
    const refresh = account.refresh ?? '';
    const presented: Presented = { exactAccess: false, mutatedAccess: false, exactRefresh: false };

    const resolve = (value: Value): JsonValue => {
      if ('json' in value) return value.json;
      switch (value.ref) {
        case 'access':
          presented.exactAccess = true;
          return access;
        case 'mutatedAccess': {
          const mutated = mutate(access, value.at, value.char);
          if (mutated === access) presented.exactAccess = true;
          else presented.mutatedAccess = true;
          return mutated;
        }
        case 'refresh':
          presented.exactRefresh = true;
          return refresh;
        case 'mutatedRefresh': {
          const mutated = mutate(refresh, value.at, value.char);
          if (mutated === refresh) presented.exactRefresh = true;
          return mutated;
        }
        case 'ownName':
          return account.username;
        case 'ownPassword':
          return account.password;
        case 'witnessName':
          return witness.username;
      }
    };
    const text = (value: Value): string => {
      const resolved = resolve(value);
      return typeof resolved === 'string' ? resolved : JSON.stringify(resolved);
    };

    const headers: Record<string, string> = {};
    if (given.auth.kind === 'raw') headers.authorization = given.auth.value;
    if (given.auth.kind === 'scheme') {
      const { scheme, gap, token, suffix } = given.auth;
      headers.authorization = `${scheme}${gap}${text(token)}${suffix}`;
    }
    if (given.contentType !== undefined) headers['content-type'] = given.contentType;
    if (given.userAgent !== undefined) headers['user-agent'] = given.userAgent;

    let payload: string | undefined;
    const { body } = given;
    if (body.kind === 'text') payload = body.text;
    if (body.kind === 'json') payload = JSON.stringify(body.value);
    if (body.kind === 'fields') {
      const members = body.entries.map(
        ([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(resolve(value))}`,
      );
      payload = `{${members.join(',')}}`;
      if (body.cut !== undefined) payload = payload.slice(0, body.cut % (payload.length + 1));
    }

    let url = route.path;
    if (route.path.includes(':id')) {
      const { id } = given;
      let segment: string;
      if (id.kind === 'sid') segment = id.whose === 'own' ? sidOf(access) : witness.sid;
      else segment = id.encode ? encodeURIComponent(id.value) : id.value;
      url = route.path.replace(':id', segment);
    }

    const res = await this.app.inject({
      method: route.method,
      url,
      headers,
      ...(payload === undefined ? {} : { payload }),
    });
    const what = `${route.method} ${url.slice(0, 120)}`;
    assertNotServerError(res, what);
    const parsed = parseJson(res.body);
    const outcome =
      res.statusCode >= 400 && isRecord(parsed)
        ? `${res.statusCode} ${String(parsed.code)}`
        : String(res.statusCode);
    this.seen.set(outcome, (this.seen.get(outcome) ?? 0) + 1);
    if (route.path === '/sessions/:id' && given.id.kind === 'sid' && given.id.whose === 'witness')
      assert.notEqual(res.statusCode, 200, `${what}: revoked another user's session`);
    this.follow(route, account, presented, payload, res);
  }

  /** Follows the account's tokens and credentials through one response. */
  private follow(
    route: Route,
    account: Account,
    presented: Presented,
    payload: string | undefined,
    res: Reply,
  ): void {
    const body = parseJson(res.body);
    const next = isRecord(body) && typeof body.token === 'string' ? body.token : undefined;
    if (isRecord(body) && typeof body.refresh_token === 'string' && next !== undefined) {
      // A login or a refresh: some session of some account (perhaps a new one). Follow it when it is ours.
      if (route.path === '/refresh_token' || payloadNames(payload, account.username)) {
        account.access = next;
        account.refresh = body.refresh_token;
      }
      return;
    }
    if (route.consumesAccess && (presented.exactAccess || presented.mutatedAccess)) {
      if (next !== undefined) account.access = next;
      // The body is checked before the token (SPEC §2), so these never consumed it; a 401 for a mutated token
      // was a rejection of the mutation. Anything else may have consumed or revoked it.
      else if ([400, 413, 415].includes(res.statusCode)) {
        /* still live */
      } else if (!(presented.mutatedAccess && !presented.exactAccess && res.statusCode === 401))
        account.access = undefined;
    }
    if (route.path === '/refresh_token' && presented.exactRefresh && res.statusCode >= 400) {
      // A 400 never looked at it; a 401 means it is gone.
      if (res.statusCode !== 400) account.refresh = undefined;
    }
    if (route.method === 'PUT' && route.path === '/user' && res.statusCode === 200 && isRecord(body)) {
      const user = body.user;
      if (isRecord(user) && typeof user.username === 'string') account.username = user.username;
      const sent = payload === undefined ? undefined : parseJson(payload);
      if (isRecord(sent) && typeof sent.password === 'string') account.password = sent.password;
    }
    if (route.path === '/user' && route.method === 'DELETE' && res.statusCode === 200)
      this.account = undefined;
  }
}

/** Whether a login body named this account (so that the session it opened is the account's). */
function payloadNames(payload: string | undefined, name: string): boolean {
  const sent = payload === undefined ? undefined : parseJson(payload);
  return isRecord(sent) && sent.username === name;
}

const ENVELOPE_KEYS = new Set(['error', 'code', 'token']);

/** The property: below 500, and every 4xx is `{error, code[, token]}` with a catalogued code of that status. */
function assertNotServerError(res: Reply, what: string): void {
  const where = `${what} → ${res.statusCode} ${res.body.slice(0, 300)}`;
  assert.ok(res.statusCode < 500, `server error: ${where}`);
  if (res.statusCode < 400) return;
  const body = parseJson(res.body);
  assert.ok(isRecord(body), `4xx body is not a JSON object: ${where}`);
  for (const key of Object.keys(body))
    assert.ok(ENVELOPE_KEYS.has(key), `unexpected member ${key}: ${where}`);
  assert.equal(typeof body.error, 'string', where);
  assert.ok(String(body.error).length > 0, where);
  const code = body.code;
  const entries = (Object.keys(ERRORS) as ErrorCode[]).filter((key) => wireCode(key) === code);
  assert.ok(typeof code === 'string' && entries.length > 0, `uncatalogued code: ${where}`);
  assert.ok(
    entries.some((key) => ERRORS[key].status === res.statusCode),
    `code and status disagree: ${where}`,
  );
  assert.ok(body.token === undefined || typeof body.token === 'string', where);
  assert.match(String(res.headers['content-type']), /^application\/json/, where);
}

// ---------------------------------------------------------------------------------------------------------------

for (const SEED of SEEDS) {
  const kind = SEEDS.length === 1 ? 'given' : SEED === FIXED_SEED ? 'fixed' : 'fresh';
  describe(`fuzzing every route (${kind} FUZZ_SEED=${SEED}, ${RUNS} runs per route)`, () => {
    let t: TestApp;
    let fuzzer: Fuzzer;
    const prototypeMembers = Object.getOwnPropertyNames(Object.prototype).sort();

    before(async () => {
      t = await makeApp();
      fuzzer = new Fuzzer(t.app);
      const witness = await signUpAndLogin(t.app);
      fuzzer.witness = {
        username: witness.username,
        password: PASSWORD,
        token: witness.token,
        sid: sidOf(witness.token),
      };
    });

    after(async () => {
      await t.close();
    });

    for (const route of ROUTES) {
      const name = `${route.method} ${route.path}`;
      const skip = ONLY_ROUTE !== undefined && ONLY_ROUTE !== name;
      it(
        `${name}: never a 5xx, every 4xx is the error envelope, some inputs accepted and some refused`,
        { skip },
        async (context) => {
          context.diagnostic(`FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} FUZZ_ROUTE='${name}'`);
          fuzzer.seen.clear();
          fuzzer.logins = 0;
          fuzzer.signups = 0;
          const details = await fc.check(
            fc.asyncProperty(input(route), (given) => fuzzer.run(route, given)),
            {
              seed: SEED,
              numRuns: RUNS,
              examples: [[validInput(route)]],
              ...(REPLAY_PATH !== undefined && !skip && ONLY_ROUTE !== undefined
                ? { path: REPLAY_PATH }
                : {}),
            },
          );
          if (details.failed) {
            const replay = `replay: FUZZ_SEED=${SEED} FUZZ_ROUTE='${name}' FUZZ_PATH='${details.counterexamplePath ?? ''}'`;
            const cause =
              details.errorInstance instanceof Error ? details.errorInstance.message : details.errorInstance;
            assert.fail(`${replay}\n${String(cause)}\n${fc.defaultReportMessage(details)}`);
          }
          const seen = [...fuzzer.seen].sort(([a], [b]) => a.localeCompare(b));
          context.diagnostic(
            `responses: ${seen.map(([outcome, count]) => `${outcome} ×${count}`).join(', ')}`,
          );
          context.diagnostic(`fuzzing account: ${fuzzer.logins} logins, ${fuzzer.signups} new accounts`);
          if (REPLAY_PATH === undefined) {
            // The tally: a route that refused every input (or accepted every one) only looked robust.
            const tally = seen.map(([outcome, count]) => `${outcome} ×${count}`).join(', ');
            const count = (low: number) =>
              seen
                .filter(
                  ([outcome]) =>
                    Number(outcome.slice(0, 3)) >= low && Number(outcome.slice(0, 3)) < low + 100,
                )
                .reduce((sum, [, n]) => sum + n, 0);
            assert.ok(count(200) > 0, `${name} accepted no input in ${RUNS} runs: ${tally}`);
            assert.ok(count(400) > 0, `${name} refused no input in ${RUNS} runs: ${tally}`);
          }
        },
      );
    }

    // Inputs the fuzzer found, kept as fixed cases: Fastify answers them before routing, outside the error handler.
    it("a malformed percent-encoding or an over-long path id is a 400 envelope, not Fastify's own body", async () => {
      const witness = fuzzer.witness;
      assert.ok(witness !== undefined);
      for (const id of ['%', '%zz', '%E2%98', '%ED%A0%80', 'a'.repeat(201), 'a'.repeat(400)]) {
        const res = await t.app.inject({ method: 'DELETE', url: `/sessions/${id}`, headers: bearer('x') });
        assert.equal(res.statusCode, 400, `${id.slice(0, 20)}: ${res.body}`);
        assert.equal(res.json<{ code: string }>().code, 'validation_failed');
        assertNotServerError(res, id);
      }
    });

    it('afterwards /healthz answers 200, the other account is untouched and a normal login works', async () => {
      const health = await t.app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(health.statusCode, 200);
      assert.deepEqual(health.json(), { status: 'ok' });

      const witness = fuzzer.witness;
      assert.ok(witness !== undefined);
      const own = await t.app.inject({ method: 'GET', url: '/user', headers: bearer(witness.token) });
      assert.equal(own.statusCode, 200, own.body);
      assert.equal(own.json<{ user: { username: string } }>().user.username, witness.username);

      const login = await t.app.inject({
        method: 'POST',
        url: '/authenticate_user',
        payload: { username: witness.username, password: witness.password },
      });
      assert.equal(login.statusCode, 200, login.body);
      const fresh = await signUpAndLogin(t.app);
      const me = await t.app.inject({ method: 'GET', url: '/user', headers: bearer(fresh.token) });
      assert.equal(me.statusCode, 200, me.body);

      assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeMembers);
      assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
    });
  });
}
