/** `netwatch-ingest serve`: configuration, start, and the orderly stop on SIGTERM/SIGINT. */
import { ConfigError, loadConfig } from '../config/load';
import { serveHelp } from '../config/docs';
import { createLogger } from '../log';
import { NotAvailableError, startService } from '../main';

export async function serveCommand(argv: string[]): Promise<number> {
  let loaded;
  try {
    loaded = loadConfig({ argv });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`netwatch-ingest serve: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (loaded.help) {
    process.stdout.write(serveHelp());
    return 0;
  }
  const logger = createLogger(loaded.config.logLevel);
  let service;
  try {
    service = await startService(loaded.config, logger);
  } catch (e) {
    if (e instanceof NotAvailableError) {
      process.stderr.write(`netwatch-ingest serve: ${e.message}\n`);
      return 2;
    }
    logger.fatal({ err: e }, 'start failed');
    process.stderr.write(`netwatch-ingest serve: ${(e as Error).message}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'stopping');
      // Exit within 5 s even if a component hangs: the data written so far is already durable (WAL).
      const deadline = setTimeout(() => {
        logger.error('stop took longer than 4.5 s; exiting');
        resolve(1);
      }, 4500);
      deadline.unref();
      service.stop().then(
        () => {
          clearTimeout(deadline);
          resolve(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'error while stopping');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}
