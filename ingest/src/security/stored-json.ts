/**
 * The JSON columns the security tables keep (metadata, evidence, related services) are written by this service,
 * but a database is a file anyone can edit: a value that does not parse reads as `fallback`, never as a failed
 * query or a crashed engine.
 */
export function parseStoredJson<T>(text: string | null, fallback: T): T {
  if (text === null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}
