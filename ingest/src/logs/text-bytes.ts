/**
 * Text as the bytes the hand-written scanners read (sshd.ts matchers and prefix scan, syslog.ts dates). The offline
 * summary hands them a file's own bytes (ASCII blocks, where a byte is a character); text (an event's line, a line
 * with non-ASCII characters) is first turned into one byte per UTF-16 code unit, so that offsets stay the
 * string's. A code unit above 127 becomes one of three bytes, the only distinctions the scanners make among
 * non-ASCII characters: U+FFFD (an undecodable byte: binary), a character Python's \s may take for a space
 * (U+0085, U+00A0, and conservatively anything above U+167F), and any other.
 */

/** {@link codeUnits}: U+FFFD. */
export const U_FFFD = 0xff;
/** {@link codeUnits}: U+0085, U+00A0, or above U+167F (U_FFFD is above it too). */
export const CU_SPACE = 0xfe;
/** {@link codeUnits}: any other non-ASCII code unit. */
export const CU_OTHER = 0x80;

/** Text up to this length is turned into bytes in one buffer kept for the next call; longer text in its own. */
const KEPT_BUFFER_BYTES = 65536;
const codeUnitBuffer = Buffer.allocUnsafe(KEPT_BUFFER_BYTES);

/**
 * `text` as the bytes the scanners read, in a buffer the next call may reuse: a view of exactly the text's length,
 * so that reading past its end gives undefined where charCodeAt gives NaN (both compare false with everything).
 */
export function codeUnits(text: string): Buffer {
  const n = text.length;
  const b = n <= KEPT_BUFFER_BYTES ? codeUnitBuffer : Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    b[i] = c < 128 ? c : c === 0xfffd ? U_FFFD : c === 0x85 || c === 0xa0 || c > 0x167f ? CU_SPACE : CU_OTHER;
  }
  return b.subarray(0, n);
}
