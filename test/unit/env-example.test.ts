import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EnvSchema } from '../../src/config.js';

const ROOT = new URL('../../', import.meta.url);

const schema = EnvSchema.properties as Record<string, { default?: unknown }>;
const variables = Object.keys(schema).sort();

/** The schema default of each variable that has one, as it would be written in an env file. */
const defaults = new Map(
  variables.flatMap((name) => {
    const value = schema[name]?.default;
    if (typeof value === 'string' || typeof value === 'number') return [[name, String(value)] as const];
    assert.equal(value, undefined, `${name}: a default that is neither a string nor a number`);
    return [];
  }),
);

function read(file: string): string {
  return readFileSync(new URL(file, ROOT), 'utf8');
}

interface Assignment {
  name: string;
  value: string;
  commented: boolean;
}

/** `NAME=value` lines of an env file, commented out (`# NAME=value`) or not. */
function assignments(text: string): Assignment[] {
  return text.split(/\r?\n/).flatMap((line) => {
    const match = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) return [];
    return [{ name: match[2] ?? '', value: match[3] ?? '', commented: match[1] !== undefined }];
  });
}

describe('.env.example', () => {
  const entries = assignments(read('.env.example'));
  const named = new Set(entries.map((e) => e.name));

  it('names every variable of EnvSchema', () => {
    assert.deepEqual(
      variables.filter((name) => !named.has(name)),
      [],
    );
  });

  it('names no variable that EnvSchema does not read', () => {
    assert.deepEqual([...named].filter((name) => !(name in schema)).sort(), []);
  });

  it('shows each default commented out, with the value the schema applies', () => {
    const wrong = [...defaults].flatMap(([name, value]) =>
      entries.some((e) => e.name === name && e.commented && e.value === value)
        ? []
        : [`${name} (expected "# ${name}=${value}")`],
    );
    assert.deepEqual(wrong, []);
  });

  it('sets nothing when copied to .env as it is', () => {
    assert.deepEqual(
      entries.filter((e) => !e.commented).map((e) => e.name),
      [],
    );
  });
});

describe('README.md', () => {
  const text = read('README.md');

  it('names only variables that EnvSchema reads', () => {
    const named = new Set([...text.matchAll(/`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`/g)].map((m) => m[1] ?? ''));
    assert.deepEqual([...named].filter((name) => !(name in schema)).sort(), []);
  });

  it("stays a newcomer's page: at most 200 lines, none over 120 characters outside code blocks", () => {
    const lines = text.split(/\r?\n/);
    assert.ok(lines.length <= 200, `README.md has ${lines.length} lines`);
    let inCode = false;
    const long = lines.flatMap((line, i) => {
      if (line.startsWith('```')) inCode = !inCode;
      return !inCode && line.length > 120 ? [`line ${i + 1}: ${line.length} characters`] : [];
    });
    assert.deepEqual(long, []);
  });
});
