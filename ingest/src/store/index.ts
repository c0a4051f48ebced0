/** The SQLite store: schema and migrations, the batch writer every writer uses, retention. */
export { Store, type StoreConfig, type StoreStats, type RetentionResult } from './store';
export { BatchWriter, BATCH_WRITER_DEFAULTS, type BatchWriterOptions, type WriterCounters, type StoreWriter, type WriterHost } from './batch-writer';
export { SCHEMA_VERSION, MIGRATIONS, type Migration } from './migrations';
export { DEFAULT_RETENTION, DEFAULT_MAX_SIZE_BYTES, type RetentionConfig, type RetainedTable } from './retention';
export { StoreError, type StoreErrorCode } from './errors';
export { SILENT_LOGGER, type StoreLogger } from './logger';
