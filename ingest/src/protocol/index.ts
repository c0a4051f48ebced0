/** The query protocol: the one definition shared by the ingest service and the Grafana plugin. */
export * from './errors';
export * from './frame';
export * from './kinds';
export * from './schemas';
export * from './normalize';
export * from './cidr';
export * from './ip';
export * from './ports';
export * from './ip-protocols';
export * from './time';
