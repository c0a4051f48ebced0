/** Errors of the store that callers (main.ts, the CLI) turn into a clear message and a non-zero exit. */
export type StoreErrorCode =
  /** The file's schema version is newer than this code knows: refusing beats corrupting it. */
  | 'NETWATCH_ERR_STORE_SCHEMA_TOO_NEW'
  /** The file has tables but no readable netwatch schema_version: some other application's database. */
  | 'NETWATCH_ERR_STORE_NOT_NETWATCH'
  /** A migration step failed; its transaction was rolled back and the file is unchanged. */
  | 'NETWATCH_ERR_STORE_MIGRATION'
  | 'NETWATCH_ERR_STORE_CONFIG'
  | 'NETWATCH_ERR_STORE_CLOSED';

export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

/** The message of anything thrown. */
export function errorMessage(err: unknown): string {
  // Duck-typed: errors from the native binding may come from another realm (jest's sandbox), failing instanceof.
  const m = (err as { message?: unknown } | null)?.message;
  return typeof m === 'string' ? m : String(err);
}
