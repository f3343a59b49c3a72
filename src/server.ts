import cluster from 'node:cluster';
import path from 'node:path';
import v8 from 'node:v8';
import { buildApp } from './app.js';
import { runPrimary } from './cluster.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { closeDeps, createDeps, createLogger } from './deps.js';

const SHUTDOWN_TIMEOUT_MS = 10_000;

/**
 * How far V8 lets the old generation grow past what survived the last full collection before it collects again.
 * By default it lets it grow up to about 4× for a heap this small, and the process's RSS follows the garbage. The
 * live heap is about 25 MB; under load the single-use path now promotes about 0.3 KB per request (3 MB/s at
 * 10k req/s), so at 25 % a full collection (mostly incremental and concurrent) comes every few seconds. 50 % was
 * chosen when requests promoted 20-30 MB/s; 25 % measured 2-5 MB lower peaks in the bench for no CPU difference
 * it could see. A `--heap-growing-percent` given to `node` wins (it cannot be set through NODE_OPTIONS).
 * docs/performance-log.md has the measurements.
 */
const HEAP_GROWING_PERCENT = 25;

function tuneHeap(): void {
  if (process.execArgv.some((arg) => /^--heap[-_]growing[-_]percent\b/.test(arg))) return;
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

function loadConfigOrExit(): Config {
  try {
    return loadConfig(process.env, path.resolve('.env'));
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}

/** One HTTP server: the whole process when WEB_CONCURRENCY=1, otherwise one worker of the cluster. */
async function runServer(config: Config): Promise<void> {
  const deps = await createDeps(config);
  const app = await buildApp(config, deps);

  let closing = false;
  // Fastify closes the connections that are idle when close() starts; a keep-alive connection still busy with
  // a request would stay open after its response (for keepAliveTimeout, 72 s) and hold the shutdown up.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close');
    done(null, payload);
  });
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    deps.logger.info({ signal }, 'shutting down');
    // For responses already past onSend when the signal came: their connection is dropped once idle.
    app.server.keepAliveTimeout = Math.min(app.server.keepAliveTimeout, 1000);
    const timer = setTimeout(() => {
      deps.logger.error('graceful shutdown timed out');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    app
      .close()
      .then(() => closeDeps(deps))
      .then(() => {
        deps.logger.info('stopped');
        process.exit(0);
      })
      .catch((error: unknown) => {
        deps.logger.error({ err: error }, 'error during shutdown');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => {
    shutdown('SIGTERM');
  });
  process.on('SIGINT', () => {
    shutdown('SIGINT');
  });

  // Fastify logs `Server listening at http://<host>:<port>` (the real port when PORT=0).
  await app.listen({ port: config.port, host: config.host });
}

async function main(): Promise<void> {
  tuneHeap();
  const config = loadConfigOrExit();
  if (config.webConcurrency > 1 && cluster.isPrimary) {
    await runPrimary(config, {
      workers: config.webConcurrency,
      logger: createLogger(config),
      shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
    });
    return;
  }
  await runServer(config);
}

main().catch((error: unknown) => {
  console.error('keyward failed to start:', error instanceof Error ? error.message : error);
  if (error instanceof Error && error.cause instanceof Error) console.error('  cause:', error.cause.message);
  process.exit(1);
});
