import type { FastifyInstance, LightMyRequestResponse } from 'fastify';

/** A browser-like client over app.inject for the portal: keeps cookies, reads the CSRF token of the last page. */
export class PortalClient {
  readonly cookies = new Map<string, string>();
  csrf = '';

  constructor(
    private readonly app: FastifyInstance,
    private readonly userAgent = 'portal-test',
  ) {}

  private cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  private remember(res: LightMyRequestResponse): void {
    for (const cookie of res.cookies as { name: string; value: string; maxAge?: number; expires?: Date }[]) {
      const expired =
        cookie.maxAge === 0 || (cookie.expires !== undefined && cookie.expires.getTime() < Date.now());
      if (expired || cookie.value === '') this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
    const token = /name="_csrf" value="([^"]+)"/.exec(res.body);
    if (token?.[1]) this.csrf = token[1];
  }

  async get(url: string): Promise<LightMyRequestResponse> {
    const res = await this.app.inject({
      method: 'GET',
      url,
      headers: { cookie: this.cookieHeader(), 'user-agent': this.userAgent },
    });
    this.remember(res);
    return res;
  }

  /** Posts a form; the CSRF token of the last page is added unless `csrf: false`. */
  async post(
    url: string,
    fields: Record<string, string>,
    options: { csrf?: boolean } = {},
  ): Promise<LightMyRequestResponse> {
    const form = new URLSearchParams(options.csrf === false ? fields : { ...fields, _csrf: this.csrf });
    const res = await this.app.inject({
      method: 'POST',
      url,
      headers: {
        cookie: this.cookieHeader(),
        'content-type': 'application/x-www-form-urlencoded',
        'user-agent': this.userAgent,
      },
      payload: form.toString(),
    });
    this.remember(res);
    return res;
  }

  /** Loads the form's page first (as a person does), then posts it. */
  async submit(page: string, url: string, fields: Record<string, string>): Promise<LightMyRequestResponse> {
    await this.get(page);
    return this.post(url, fields);
  }
}
