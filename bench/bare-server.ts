// The platform's ceiling: a bare node:http server answering every request with one fixed JSON body, shaped
// like Keyward's `GET /user` answer (a user and a token of a real token's length) so the client does the
// same work on both. Prints `{"port":N}` once listening.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { serveReference } from './reference-server.js';

const body = Buffer.from(
  JSON.stringify({
    user: { id: 1, username: 'bench_0' },
    token: `eyJ${randomBytes(240).toString('base64url')}`,
  }),
);
const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': String(body.length) };

const server = http.createServer((request, response) => {
  request.on('end', () => {
    response.writeHead(200, headers);
    response.end(body);
  });
  request.resume();
});
serveReference(server);
