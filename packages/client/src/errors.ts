/** An error answer from Keyward (`{"error","code"}`), or a failure to reach it (`code: "network_error"`). */
export class KeywardError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'KeywardError';
    this.status = status;
    this.code = code;
  }
}

export async function errorOf(response: Response): Promise<KeywardError> {
  const body = (await response.json().catch(() => ({}))) as { error?: unknown; code?: unknown };
  return new KeywardError(
    response.status,
    typeof body.code === 'string' ? body.code : 'http_error',
    typeof body.error === 'string' ? body.error : `HTTP ${response.status}`,
  );
}
