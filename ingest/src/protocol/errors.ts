/**
 * Stable error codes of the query protocol. A code never changes meaning once published: clients
 * (the Grafana plugin, alert rules, scripts) branch on it. Each carries its HTTP status.
 */
export const ErrorCodes = {
  NETWATCH_ERR_BAD_CIDR: 400,
  NETWATCH_ERR_BAD_PORT: 400,
  NETWATCH_ERR_BAD_PROTOCOL: 400,
  NETWATCH_ERR_BAD_TIME_RANGE: 400,
  NETWATCH_ERR_UNKNOWN_KIND: 400,
  NETWATCH_ERR_VALIDATION: 400,
  NETWATCH_ERR_TOO_MANY_QUERIES: 400,
  NETWATCH_ERR_BAD_JSON: 400,
  NETWATCH_ERR_UNAUTHORIZED: 401,
  NETWATCH_ERR_NOT_FOUND: 404,
  NETWATCH_ERR_BODY_TOO_LARGE: 413,
  NETWATCH_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  NETWATCH_ERR_INTERNAL: 500,
  NETWATCH_ERR_NOT_IMPLEMENTED: 501,
  NETWATCH_ERR_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** An error the protocol reports to a client: a stable code, its HTTP status, and the offending field path. */
export class NetwatchError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** JSON-pointer-like path of the offending field, e.g. `/queries/0/cidr/1`; empty when not about one field. */
  readonly path: string;

  constructor(code: ErrorCode, message: string, path = '') {
    super(message);
    this.name = 'NetwatchError';
    this.code = code;
    this.status = ErrorCodes[code];
    this.path = path;
  }

  toJSON(): ErrorBody {
    return this.path ? { code: this.code, message: this.message, path: this.path } : { code: this.code, message: this.message };
  }
}

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  path?: string;
}

export function isNetwatchError(e: unknown): e is NetwatchError {
  return e instanceof NetwatchError;
}
