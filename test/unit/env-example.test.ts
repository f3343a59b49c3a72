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

/** Rows of the README's "Configuration" table: variable name and default cell. */
function readmeTable(text: string): Map<string, string> {
  const start = text.search(/^## Configuration\b/m);
  assert.notEqual(start, -1, 'README.md has no "## Configuration" section');
  const rest = text.slice(start + 1);
  const end = rest.search(/^## /m);
  const section = end === -1 ? rest : rest.slice(0, end);
  const rows = new Map<string, string>();
  for (const line of section.split(/\r?\n/)) {
    const match = /^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|([^|]*)\|/.exec(line);
    if (match?.[1]) rows.set(match[1], (match[2] ?? '').trim());
  }
  return rows;
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

describe("README's configuration table", () => {
  const rows = readmeTable(read('README.md'));

  it('lists every variable of EnvSchema', () => {
    assert.deepEqual(
      variables.filter((name) => !rows.has(name)),
      [],
    );
  });

  it('lists no variable that EnvSchema does not read', () => {
    assert.deepEqual([...rows.keys()].filter((name) => !(name in schema)).sort(), []);
  });

  it('quotes each non-empty default as the schema applies it', () => {
    const wrong = [...defaults].flatMap(([name, value]) =>
      value === '' || (rows.get(name) ?? '').includes(`\`${value}\``)
        ? []
        : [`${name} (expected \`${value}\`)`],
    );
    assert.deepEqual(wrong, []);
  });
});
