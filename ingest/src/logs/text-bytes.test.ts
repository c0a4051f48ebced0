import { codeUnits, CU_OTHER, CU_SPACE, U_FFFD } from './text-bytes';

describe('codeUnits', () => {
  it.each([
    ['ASCII as it is', 'Mar 27 sshd[1]: x\t\x01\x7f', [...'Mar 27 sshd[1]: x\t\x01\x7f'].map((c) => c.charCodeAt(0))],
    ['one byte per UTF-16 code unit, in the classes the scanners tell apart', 'a\u00e9\u00a0\u0085\u167f\u1680\u3000\ufffd\u{1f600}z', [97, CU_OTHER, CU_SPACE, CU_SPACE, CU_OTHER, CU_SPACE, CU_SPACE, U_FFFD, CU_SPACE, CU_SPACE, 122]],
    ['nothing', '', []],
  ])('turns %s into bytes', (_name, text, want) => {
    const b = codeUnits(text);
    expect([...b]).toEqual(want);
    // Exactly the text's length: past its end there is nothing, as charCodeAt has nothing.
    expect([b.length, b[text.length]]).toEqual([text.length, undefined]);
  });

  it('turns text longer than its kept buffer into bytes of its own, and shorter text after it as well', () => {
    const long = `${'x'.repeat(100_000)}\u00e9`;
    const b = codeUnits(long);
    expect([b.length, b[0], b[99_999], b[100_000]]).toEqual([100_001, 120, 120, CU_OTHER]);
    expect([...codeUnits('ok')]).toEqual([111, 107]);
  });
});
