// What the bench's reference servers (bare-server.ts, floor-server.ts) share: listening on PORT (or any free port)
// on the loopback interface, printing `{"port":N}` once listening (ServerProcess reads it), stopping on SIGTERM.
import type http from 'node:http';

export function serveReference(server: http.Server): void {
  server.keepAliveTimeout = 60_000;
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
  });
  process.on('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
