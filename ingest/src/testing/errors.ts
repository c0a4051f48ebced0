/**
 * The NetwatchError a call throws, as a plain `{ code, message, path }` for `toEqual` on the whole error.
 * Anything else thrown is rethrown, and a call that throws nothing fails the test.
 */
import { NetwatchError } from '../protocol/errors';

export function caught(fn: () => unknown) {
  try {
    fn();
  } catch (e) {
    if (e instanceof NetwatchError) return { code: e.code, message: e.message, path: e.path };
    throw e;
  }
  throw new Error('expected a NetwatchError');
}
