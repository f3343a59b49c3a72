import { isCi } from '../../scripts/ci-flag.mjs';

/** True when CI is set to any truthy value: a missing service must then fail the run, never skip. */
export const inCi = isCi();
