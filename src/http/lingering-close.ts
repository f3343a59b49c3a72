import type { Socket } from 'node:net';

/** How long a connection keeps reading (and discarding) what a client still sends after its final answer. */
export const LINGER_MS = 5000;

const lingering = new WeakSet<Socket>();

/**
 * Lingering close (as Apache and nginx do it) for a response sent before its request's body was read to the end,
 * such as a 413. Node closes such a connection as soon as the response is written; the client is still sending,
 * so the kernel answers its next segments with a reset, and a reset makes the client's kernel drop the 413 it had
 * not read yet: the client sees ECONNRESET instead of its answer. Here the response is followed by our FIN
 * (`end`), the rest of the body is read and discarded (the HTTP parser keeps consuming the socket), and the socket
 * is destroyed when the client closes its side or after LINGER_MS, whichever comes first.
 *
 * It works by replacing `destroySoon` on that one socket, which Node's HTTP server calls after the last response
 * of a connection (`resOnFinish` in `_http_server.js`, Node 20 to 24): test/http/http-edges.test.ts checks it.
 */
export function lingerAfterResponse(socket: Socket): void {
  if (lingering.has(socket)) return;
  lingering.add(socket);
  socket.destroySoon = function lingeringClose(this: Socket) {
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.once('close', () => {
      clearTimeout(timer);
    });
    // The client's FIN after ours: nothing more will come, the socket can go (allowHalfOpen keeps it otherwise).
    this.once('end', () => {
      this.destroy();
    });
    if (this.writable) this.end();
  };
}
