// Whether the CI environment variable is set to a truthy value. CI services set CI to `true`, `1`, `yes` or
// some other word; any of those counts (a missing service must fail, and a skipped test fails the run). Unset,
// empty, `0`, `false`, `no` and `off` (any case) do not. One rule, read by the test runner and test/helpers.
export function isCi(value = process.env.CI) {
  if (value === undefined) return false;
  return !['', '0', 'false', 'no', 'off'].includes(value.trim().toLowerCase());
}
