import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { usernameKey } from '../../src/domain/username.js';
import { makeApp, PASSWORD, type TestApp } from '../helpers/app.js';
import { assertOk, login } from '../http/http-helpers.js';
import { assertExit, jsonLines, makeWorkspace, runCli, type CliWorkspace } from './cli-helpers.js';

describe('keyward user check-names', () => {
  let ws: CliWorkspace;
  let t: TestApp;

  before(async () => {
    ws = makeWorkspace();
    t = await makeApp(ws.env);
  });

  after(async () => {
    await t.close();
    ws.remove();
  });

  it('lists the stored names the username rules now refuse; those accounts still log in', async () => {
    const passwordHash = await t.deps.hasher.hash(PASSWORD);
    // Names the earlier rules (NFKC, no spaces or controls) let in.
    const legacy = ['p\u0430ypal', '🔑🐢🌵🎻', 'love♥love'];
    const ids = new Map<string, number>();
    for (const username of legacy) {
      const user = await t.deps.users.create({ username, usernameKey: usernameKey(username), passwordHash });
      ids.set(username, user.id);
    }
    const fine = await t.app.inject({
      method: 'POST',
      url: '/user',
      payload: { username: 'alice', password: PASSWORD },
    });
    assert.equal(fine.statusCode, 201, fine.body);

    const r = await runCli(['user', 'check-names', '--json'], ws.env);
    assertExit(r, 0);
    const lines = jsonLines<{ id: number; username: string; reason: string }>(r.stdout);
    assert.deepEqual(
      lines.map((l) => [l.id, l.username]),
      legacy.map((name) => [ids.get(name), name]),
    );
    assert.match(lines[0]?.reason ?? '', /mix scripts \(Cyrillic, Latin\)/);
    assert.match(lines[1]?.reason ?? '', /U\+1F511/);

    const text = await runCli(['user', 'check-names'], ws.env);
    assertExit(text, 0);
    assert.match(text.stdout, /3 username\(s\) the rules would refuse\n$/);
    for (const username of legacy) assertOk(await login(t.app, username, PASSWORD));
  });
});
