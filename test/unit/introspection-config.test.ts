import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { ClientAuthenticator } from '../../src/services/client-authenticator.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.problems;
  }
  return [];
}

describe('INTROSPECTION_CLIENTS', () => {
  it('parses id:secret pairs (a secret may hold colons)', () => {
    const config = loadConfig({ INTROSPECTION_CLIENTS: ' api:0123456789abcdef , b.2:x:y:0123456789abcdef' });
    assert.deepEqual(config.introspectionClients, [
      { id: 'api', secret: '0123456789abcdef' },
      { id: 'b.2', secret: 'x:y:0123456789abcdef' },
    ]);
    assert.deepEqual(loadConfig({}).introspectionClients, []);
  });

  it('refuses short secrets, bad ids and duplicates, without echoing a secret', () => {
    const problems = problemsOf({
      INTROSPECTION_CLIENTS: 'api:short-secret1,bad id:0123456789abcdef,api:0123456789abcdef,nosecret',
    });
    assert.equal(problems.length, 4, problems.join('\n'));
    for (const problem of problems) {
      assert.ok(problem.startsWith('INTROSPECTION_CLIENTS: '));
      assert.ok(!problem.includes('short-secret1') && !problem.includes('0123456789abcdef'), problem);
    }
  });
});

describe('ClientAuthenticator', () => {
  const clients = new ClientAuthenticator([{ id: 'api', secret: '0123456789abcdef' }]);
  it('accepts the listed id with its secret only', () => {
    assert.equal(clients.authenticate({ id: 'api', secret: '0123456789abcdef' }), 'api');
    assert.equal(clients.authenticate({ id: 'api', secret: '0123456789abcdeF' }), undefined);
    assert.equal(clients.authenticate({ id: 'api', secret: '0123456789abcdef0' }), undefined);
    assert.equal(clients.authenticate({ id: 'other', secret: '0123456789abcdef' }), undefined);
    assert.equal(clients.authenticate(undefined), undefined);
    assert.equal(new ClientAuthenticator([]).authenticate({ id: '', secret: '' }), undefined);
  });
});
