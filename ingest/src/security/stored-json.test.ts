import { parseStoredJson } from './stored-json';

describe('parseStoredJson', () => {
  it.each([
    ['an object', '{"jail":"sshd"}', { jail: 'sshd' }],
    ['an array', '["ssh","http"]', ['ssh', 'http']],
    ['SQL NULL as the fallback', null, 'fallback'],
    ['an empty string as the fallback', '', 'fallback'],
    ['text cut short as the fallback', '{"jail":"ss', 'fallback'],
    ['JSON null as null', 'null', null],
  ])('reads %s', (_name, text, want) => {
    expect(parseStoredJson<unknown>(text, 'fallback')).toEqual(want);
  });
});
