/** A call held at a point of a test's choosing: `reached` resolves when the call gets there, `release()` lets it go on. */
export interface Hold {
  reached: Promise<void>;
  release: () => void;
}

type AsyncMethod = (...args: never[]) => Promise<unknown>;

/**
 * Forces an interleaving without sleeping: the next call of `target[method]` stops `before` it runs, or `after`
 * it has run (its result kept), until `release()`. Only that one call is held; later calls run freely. The real
 * method runs in both cases (a password hasher really verifies; a token store really reads).
 */
export function holdNextCall<T extends object>(
  target: T,
  method: { [K in keyof T]: T[K] extends AsyncMethod ? K : never }[keyof T],
  at: 'before' | 'after',
): Hold {
  const real = (target[method] as AsyncMethod).bind(target);
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let reach!: () => void;
  const reached = new Promise<void>((resolve) => {
    reach = resolve;
  });
  let armed = true;
  const held = async (...args: never[]): Promise<unknown> => {
    if (!armed) return real(...args);
    armed = false;
    if (at === 'before') {
      reach();
      await released;
      return real(...args);
    }
    const result = await real(...args);
    reach();
    await released;
    return result;
  };
  Object.defineProperty(target, method, { value: held, configurable: true, writable: true });
  return { reached, release };
}
