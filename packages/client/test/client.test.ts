import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PASSWORD, uniqueName } from '../../../test/helpers/app.js';
import { listeningApp, type ListeningApp } from '../../../test/helpers/listening.js';
import { createClient, KeywardError } from '../src/index.js';

let k: ListeningApp;
before(async () => {
  k = await listeningApp();
});
after(async () => {
  await k.close();
});

/** A fetch that counts the calls per path, and can use up the next presented access token behind the client's back. */
function instrumentedFetch() {
  const calls = new Map<string, number>();
  let stealNext = false;
  const wrapped = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input);
    calls.set(url.pathname, (calls.get(url.pathname) ?? 0) + 1);
    const auth = new Headers(init?.headers).get('authorization');
    if (stealNext && auth !== null && url.pathname !== '/logout') {
      stealNext = false;
      // Someone else uses the token first (single-use): the client's request then meets a 401.
      const stolen = await fetch(new URL('/user', url), { headers: { authorization: auth } });
      assert.equal(stolen.status, 200);
    }
    return fetch(input, init);
  };
  return {
    fetch: wrapped,
    calls,
    stealNext() {
      stealNext = true;
    },
  };
}

async function loggedIn(f = instrumentedFetch()) {
  const client = createClient({ baseUrl: k.baseUrl, fetch: f.fetch });
  const username = uniqueName('client');
  const user = await client.signup(username, PASSWORD);
  assert.deepEqual(await client.login(username, PASSWORD), { status: 'logged_in' });
  return { client, user, username, f };
}

describe('@keyward/client against a real Keyward server', () => {
  it('signs up, logs in, and chains single-use tokens through request()', async () => {
    const { client, user, username } = await loggedIn();
    assert.equal(user.username, username);
    for (let i = 0; i < 3; i += 1) {
      const res = await client.request('/user');
      assert.equal(res.status, 200);
      assert.equal(
        ((await res.json()) as { user: { id: number } }).user.id,
        user.id,
        'the body is still readable',
      );
    }
  });

  it('30 concurrent request() calls on one session all succeed', async () => {
    const { client } = await loggedIn();
    const answers = await Promise.all(Array.from({ length: 30 }, () => client.request('/user')));
    assert.deepEqual(
      answers.map((r) => r.status),
      Array.from({ length: 30 }, () => 200),
    );
  });

  it('a 401 triggers one refresh however many requests were waiting, and they all succeed', async () => {
    const { client, f } = await loggedIn();
    f.stealNext();
    const answers = await Promise.all(Array.from({ length: 10 }, () => client.request('/sessions')));
    assert.deepEqual(
      answers.map((r) => r.status),
      Array.from({ length: 10 }, () => 200),
    );
    assert.equal(f.calls.get('/refresh_token'), 1);
  });

  it('an error answer that carries the next token keeps the chain going', async () => {
    const { client } = await loggedIn();
    const other = uniqueName('taken');
    await createClient({ baseUrl: k.baseUrl }).signup(other, PASSWORD);
    const clash = await client.request('/user', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: other, current_password: PASSWORD }),
    });
    assert.equal(clash.status, 409);
    assert.equal((await client.request('/user')).status, 200);
  });

  it('logout revokes the session; request() then refuses without calling the server', async () => {
    const { client, f } = await loggedIn();
    const before = f.calls.get('/user') ?? 0;
    await client.logout();
    assert.equal(await client.isLoggedIn(), false);
    await assert.rejects(client.request('/user'), (error: unknown) => {
      assert.ok(error instanceof KeywardError);
      assert.equal(error.code, 'not_logged_in');
      return true;
    });
    assert.equal(f.calls.get('/user') ?? 0, before);
  });

  it('when the session was revoked elsewhere, the refresh fails, the session is forgotten and the 401 returned', async () => {
    const { client } = await loggedIn();
    const changes: boolean[] = [];
    client.onSessionChange((loggedInNow) => changes.push(loggedInNow));
    const me = (await (await client.request('/user')).json()) as { user: { id: number } };
    await k.deps.sessions.revokeAll(me.user.id);
    const res = await client.request('/user');
    assert.equal(res.status, 401);
    assert.equal(await client.isLoggedIn(), false);
    assert.deepEqual(changes, [false]);
  });

  it('wrong credentials and a taken username are KeywardErrors with the server code', async () => {
    const client = createClient({ baseUrl: k.baseUrl });
    await assert.rejects(client.login(uniqueName('nobody'), PASSWORD), (error: unknown) => {
      assert.ok(error instanceof KeywardError);
      assert.equal(error.status, 401);
      assert.equal(error.code, 'invalid_credentials');
      return true;
    });
    const name = uniqueName('dup');
    await client.signup(name, PASSWORD);
    await assert.rejects(client.signup(name, PASSWORD), (error: unknown) => {
      assert.ok(error instanceof KeywardError);
      assert.equal(error.code, 'username_taken');
      return true;
    });
  });
});
