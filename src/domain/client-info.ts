/** Who is calling, as recorded on a session and in audit events. */
export interface ClientInfo {
  ip: string;
  userAgent: string;
  /** The request's id, for the audit events it causes (never stored on the session). */
  requestId?: string | undefined;
}
