/**
 * The logging the store needs: any pino-compatible logger fits (pino's `info(obj, msg)` / `info(msg)`), so the
 * store does not depend on pino and tests can pass a recorder.
 */
export interface StoreLogger {
  info(objOrMsg: object | string, msg?: string): void;
  warn(objOrMsg: object | string, msg?: string): void;
  error(objOrMsg: object | string, msg?: string): void;
}

export const SILENT_LOGGER: StoreLogger = {
  info() {},
  warn() {},
  error() {},
};
