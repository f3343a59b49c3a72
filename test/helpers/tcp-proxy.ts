import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from './redis-server.js';

type Mode = 'forward' | 'stall';

/**
 * A loopback TCP proxy in front of a real server, for outage tests. `cut()` destroys every connection and closes
 * the port (the server is down: connections are refused); `stall()` keeps the port open but forwards nothing in
 * either direction (a network partition: connects and queries hang); `restore()` forwards again.
 */
export class TcpProxy {
  private server: Server | undefined;
  private mode: Mode = 'forward';
  private readonly pairs = new Set<{ client: Socket; upstream: Socket | undefined }>();

  private constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  /** Starts a proxy to `target` on a free loopback port. */
  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(await freePort(), target);
    await proxy.restore();
    return proxy;
  }

  /** Client connections currently open through the proxy. */
  get openConnections(): number {
    return this.pairs.size;
  }

  private accept(client: Socket): void {
    const pair: { client: Socket; upstream: Socket | undefined } = { client, upstream: undefined };
    this.pairs.add(pair);
    client.on('error', () => client.destroy());
    client.on('close', () => {
      pair.upstream?.destroy();
      this.pairs.delete(pair);
    });
    if (this.mode === 'stall') {
      client.resume();
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    pair.upstream = upstream;
    // Either side failing ends both, as a dropped connection would.
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private async listen(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      this.accept(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  private async unlisten(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
    this.destroyAll();
    await closed;
  }

  private destroyAll(): void {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream?.destroy();
    }
  }

  /** Forwards again (listening again after a cut); connections stalled by `stall()` are dropped first. */
  async restore(): Promise<void> {
    if (this.mode === 'stall') this.destroyAll();
    this.mode = 'forward';
    await this.listen();
  }

  /** Destroys every open connection and closes the port: new connections are refused. */
  async cut(): Promise<void> {
    this.mode = 'forward';
    await this.unlisten();
  }

  /** Stops forwarding: open connections and new ones get no answer; what is sent is dropped. */
  async stall(): Promise<void> {
    this.mode = 'stall';
    await this.listen();
    for (const { client, upstream } of this.pairs) {
      client.unpipe();
      upstream?.unpipe();
      client.resume();
      upstream?.resume();
    }
  }

  /** Closes the port and every connection (for `after` hooks). */
  close(): Promise<void> {
    return this.cut();
  }
}
