/** Whether the CI environment variable (or `value`) is set to a truthy value: not unset, empty, 0, false, no, off. */
export function isCi(value?: string): boolean;
