// Summarises a V8 .cpuprofile (as written by `node --cpu-prof`): where the server's CPU time went, by
// function (self time), by module (self time), and the inclusive time of Keyward's own functions.
// Usage: tsx bench/profile-summary.ts <file.cpuprofile> [top=25]
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileLine {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Time the process was busy (everything but `(idle)`). */
  busyMs: number;
  selfByFunction: ProfileLine[];
  selfByModule: ProfileLine[];
  /** Inclusive time of Keyward's own functions (dist/, or src/ through the bundle's source map), as a share of the busy time. */
  keywardInclusive: ProfileLine[];
}

/** `fastify`, `@node-rs/argon2`, `node:internal`, `keyward` … for a script URL. */
function moduleOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? url);
  }
  if (url.startsWith('node:')) return url.startsWith('node:internal') ? 'node:internal' : url;
  if (isKeyward(url)) return 'keyward';
  return url;
}

/** Keyward's own code: the compiled modules in dist/ or, once mapped back from the bundle, the sources in src/. */
function isKeyward(url: string): boolean {
  return !url.includes('/node_modules/') && (url.includes('/dist/') || url.includes('/src/'));
}

function label(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (frame.url === '') return name;
  const nm = frame.url.lastIndexOf('/node_modules/');
  const own = Math.max(frame.url.lastIndexOf('/dist/'), frame.url.lastIndexOf('/src/'));
  const file =
    nm >= 0
      ? frame.url.slice(nm + '/node_modules/'.length)
      : own >= 0
        ? frame.url.slice(own + 1)
        : frame.url.replace(/^file:\/\//, '');
  return `${name} ${file}:${frame.lineNumber + 1}`;
}

function top(map: Map<string, number>, total: number, n: number): ProfileLine[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, ms: us / 1000, share: us / total }));
}

/**
 * `window` (microseconds on the monotonic clock that `process.hrtime` and V8's profiler share) keeps only
 * the samples taken during the measurement, leaving out start-up and warm-up.
 */
export function summarise(
  profile: CpuProfile,
  n = 25,
  window?: { fromUs: number; toUs: number },
): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const selfUs = new Map<number, number>();
  let clock = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    clock += delta;
    if (window && (clock < window.fromUs || clock > window.toUs)) return;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });

  let totalUs = 0;
  let idleUs = 0;
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    totalUs += us;
    if (node.callFrame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const name = label(node.callFrame);
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    const mod = moduleOf(node.callFrame);
    byModule.set(mod, (byModule.get(mod) ?? 0) + us);
    // Every Keyward function on the stack gets the sample once, however deep the recursion.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (frame === undefined || !isKeyward(frame.url)) continue;
      const key = label(frame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const busyUs = totalUs - idleUs;
  return {
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    selfByFunction: top(byFunction, busyUs, n),
    selfByModule: top(byModule, busyUs, n),
    keywardInclusive: top(inclusive, busyUs, n),
  };
}

/**
 * The profile, with the frames of a bundled script (dist/server.js, see scripts/bundle.ts) moved back to the file
 * and line they were bundled from, read from the script's source map: otherwise every frame of Keyward and of
 * its dependencies would be counted as one module.
 */
export function readProfile(file: string): CpuProfile {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const maps = new Map<string, { map: SourceMap; dir: string } | undefined>();
  for (const node of profile.nodes) {
    const frame = node.callFrame;
    if (!frame.url.startsWith('file://')) continue;
    if (!maps.has(frame.url)) {
      const script = fileURLToPath(frame.url);
      const mapFile = `${script}.map`;
      maps.set(
        frame.url,
        existsSync(mapFile)
          ? {
              map: new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')) as SourceMapPayload),
              dir: path.dirname(mapFile),
            }
          : undefined,
      );
    }
    const found = maps.get(frame.url);
    if (found === undefined) continue;
    const entry = found.map.findEntry(frame.lineNumber, frame.columnNumber) as Partial<{
      originalSource: string;
      originalLine: number;
      originalColumn: number;
    }>;
    if (entry.originalSource === undefined) continue;
    const source = entry.originalSource.startsWith('file://')
      ? entry.originalSource
      : pathToFileURL(path.resolve(found.dir, entry.originalSource)).href;
    node.callFrame = {
      ...frame,
      url: source,
      lineNumber: entry.originalLine ?? frame.lineNumber,
      columnNumber: entry.originalColumn ?? frame.columnNumber,
    };
  }
  return profile;
}

export function renderSummary(summary: ProfileSummary, requests?: number): string {
  const lines: string[] = [];
  const perRequest = (ms: number) =>
    requests !== undefined && requests > 0 ? ` | ${((ms * 1000) / requests).toFixed(1)}` : '';
  const head = requests !== undefined ? ' | µs/request' : '';
  const sep = requests !== undefined ? '|---' : '';
  lines.push(
    `Profiled ${(summary.totalMs / 1000).toFixed(1)} s, busy ${(summary.busyMs / 1000).toFixed(1)} s` +
      (requests !== undefined ? `, ${requests} requests` : '') +
      '.',
    '',
  );
  const table = (title: string, rows: ProfileLine[]) => {
    lines.push(`### ${title}`, '', `| | ms | share of busy${head} |`, `|---|---|---${sep}|`);
    for (const row of rows) {
      lines.push(
        `| \`${row.name}\` | ${row.ms.toFixed(0)} | ${(row.share * 100).toFixed(1)}%${perRequest(row.ms)} |`,
      );
    }
    lines.push('');
  };
  table('Self time by module', summary.selfByModule);
  table('Self time by function', summary.selfByFunction);
  table("Inclusive time of Keyward's own functions", summary.keywardInclusive);
  return lines.join('\n');
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (file === undefined) {
    console.error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [top=25]');
    process.exit(2);
  }
  process.stdout.write(renderSummary(summarise(readProfile(file), Number(process.argv[3] ?? 25))));
}
