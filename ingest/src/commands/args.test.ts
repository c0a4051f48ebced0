import { UsageError, commandArgs } from './args';

/** Each argument as [name, value] when the flag takes one (listed in `valued`), else [name]. */
function tokens(argv: string[], valued: string[]): string[][] {
  const out: string[][] = [];
  for (const { arg, name, value } of commandArgs(argv)) out.push(valued.includes(name) ? [name, value()] : [name, arg]);
  return out;
}

describe('commandArgs', () => {
  it.each([
    ['a value after the flag', ['--format', 'json', 'a.pcap'], [['--format', 'json'], ['a.pcap', 'a.pcap']]],
    ['a value after =', ['--format=json', 'a.pcap'], [['--format', 'json'], ['a.pcap', 'a.pcap']]],
    ['an empty value after =', ['--format=', 'a.pcap'], [['--format', ''], ['a.pcap', 'a.pcap']]],
    ['= inside a value', ['--format', 'a=b'], [['--format', 'a=b']]],
    ['a flag-like value given with =', ['--format=--summary'], [['--format', '--summary']]],
    ['a lone - as the value (standard input)', ['--format', '-'], [['--format', '-']]],
    ['a bare -- as the value', ['--format', '--'], [['--format', '--']]],
    ['a flag without a value', ['--summary', 'x.log'], [['--summary', '--summary'], ['x.log', 'x.log']]],
  ])('reads %s', (_name, argv, want) => {
    expect(tokens(argv, ['--format'])).toEqual(want);
  });

  it.each([
    ['at the end', ['a.pcap', '--format']],
    ['followed by a flag', ['--format', '--bogus']],
  ])('refuses a flag whose value is missing %s, naming the flag', (_name, argv) => {
    expect(() => tokens(argv, ['--format'])).toThrow(new UsageError('--format needs a value'));
  });
});
