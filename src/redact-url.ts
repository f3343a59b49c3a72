// Query parameters that carry credentials in pg and ioredis connection strings (`?password=…`, `?sslkey=…`).
export const SECRET_PARAM = /pass|secret|token|key|auth/i;

/** A URL fit for a log line or an error message: its password and any credential-like query parameter masked. */
export function redactUrl(url: string): string {
  const masked = url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*):[^@/]*@/i, '$1:***@');
  const query = masked.indexOf('?');
  if (query === -1) return masked;
  const params = masked
    .slice(query + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq !== -1 && SECRET_PARAM.test(pair.slice(0, eq)) ? `${pair.slice(0, eq)}=***` : pair;
    });
  return `${masked.slice(0, query)}?${params.join('&')}`;
}
