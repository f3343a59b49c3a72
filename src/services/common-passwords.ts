import { createRequire } from 'node:module';

/** Where the list comes from: zxcvbn-ts's 49k most common passwords, from public breach corpora. */
export const COMMON_PASSWORDS_PACKAGE = '@zxcvbn-ts/language-common';

/**
 * Case-insensitive membership in a fixed list of passwords, kept compact: the entries lowercased, sorted and
 * concatenated in one string, with their start offsets, searched by bisection. For the 17,950 entries of 8
 * characters or more that is about 0.2 MB of heap, against 0.6 MB as a `Set` of strings.
 */
export class CommonPasswords {
  private readonly text: string;
  /** Entry i is text[starts[i], starts[i + 1]). */
  private readonly starts: Uint32Array;

  constructor(entries: Iterable<string>) {
    const sorted = [...new Set([...entries].map((entry) => entry.toLowerCase()))].sort();
    this.text = sorted.join('');
    this.starts = new Uint32Array(sorted.length + 1);
    let offset = 0;
    sorted.forEach((entry, i) => {
      this.starts[i] = offset;
      offset += entry.length;
    });
    this.starts[sorted.length] = offset;
  }

  get size(): number {
    return this.starts.length - 1;
  }

  /** Whether the password, lowercased, is one of the entries. */
  has(password: string): boolean {
    const key = password.toLowerCase();
    let low = 0;
    let high = this.size - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const entry = this.text.slice(this.starts[middle], this.starts[middle + 1]);
      if (entry === key) return true;
      if (entry < key) low = middle + 1;
      else high = middle - 1;
    }
    return false;
  }
}

/**
 * The package's common passwords that `keep` accepts. The package decompresses its whole list when it loads
 * (49k strings, 2.1 MB of heap, and 0.4 MB more for its diceware list) and would hold it for the life of the
 * process. So it is loaded through CommonJS, read once, and its modules are dropped from the module cache
 * again, which leaves them to the collector: the server keeps only the entries it needs (see `CommonPasswords`).
 */
export function loadCommonPasswords(keep: (password: string) => boolean): CommonPasswords {
  const require = createRequire(import.meta.url);
  const loadedBefore = new Set(Object.keys(require.cache));
  try {
    const { dictionary } = require(COMMON_PASSWORDS_PACKAGE) as { dictionary?: Record<string, unknown> };
    const list = dictionary?.['passwords-common'];
    // A silently empty list would let every common password through.
    if (!Array.isArray(list) || list.length === 0) {
      throw new Error(`${COMMON_PASSWORDS_PACKAGE} has no 'passwords-common' list`);
    }
    return new CommonPasswords((list as string[]).filter(keep));
  } finally {
    for (const key of Object.keys(require.cache)) {
      if (!loadedBefore.has(key)) Reflect.deleteProperty(require.cache, key);
    }
  }
}
