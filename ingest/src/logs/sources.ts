/** `--log TYPE:PATH`, parsed where the configuration is read (a bad value is a configuration error, exit 2). */
export const LOG_TYPES = ['auth', 'fail2ban', 'syslog', 'kern', 'auto'] as const;
export type LogType = (typeof LOG_TYPES)[number];

export interface LogSourceSpec {
  type: LogType;
  path: string;
}

/** Parses `TYPE:PATH` of --log; throws an Error naming what is expected. */
export function parseLogSpec(spec: string): LogSourceSpec {
  const colon = spec.indexOf(':');
  const type = colon > 0 ? spec.slice(0, colon) : '';
  const file = colon > 0 ? spec.slice(colon + 1) : '';
  if (!(LOG_TYPES as readonly string[]).includes(type) || file === '') {
    throw new Error(`expected TYPE:PATH with TYPE one of ${LOG_TYPES.join(', ')} (e.g. auth:/var/log/auth.log)`);
  }
  return { type: type as LogType, path: file };
}
