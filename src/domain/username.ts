/** The case-insensitive comparison key (NFKC, lower case, NFKC again since case mapping can denormalise). */
export function usernameKey(username: string): string {
  return username.normalize('NFKC').toLowerCase().normalize('NFKC');
}
