import path from 'node:path';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { closeDeps, createDeps } from './deps.js';

const SHUTDOWN_TIMEOUT_MS = 10_000;

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env, path.resolve('.env'));
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const deps = await createDeps(config);
  const app = await buildApp(config, deps);

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    deps.logger.info({ signal }, 'shutting down');
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

  await app.listen({ port: config.port, host: config.host });
}

main().catch((error: unknown) => {
  console.error('keyward failed to start:', error instanceof Error ? error.message : error);
  if (error instanceof Error && error.cause instanceof Error) console.error('  cause:', error.cause.message);
  process.exit(1);
});
