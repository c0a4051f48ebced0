import { caught } from '../testing/errors';
import { parsePortList, parsePortSpec, portListMatches, validatePortList } from './ports';

describe('parsePortSpec', () => {
  it.each([
    [0, [0, 0]],
    [443, [443, 443]],
    [65535, [65535, 65535]],
    ['443', [443, 443]],
    [' 22 ', [22, 22]],
    ['0', [0, 0]],
    ['65535', [65535, 65535]],
    ['80-90', [80, 90]],
    ['80 - 90', [80, 90]],
    ['0-65535', [0, 65535]],
    ['53-53', [53, 53]],
    ['0080', [80, 80]],
  ])('parses %j', (spec, want) => {
    expect(parsePortSpec(spec, '/port/0')).toEqual(want);
  });

  it.each([
    [65536, '65536: port out of range 0-65535'],
    [-1, '-1: port out of range 0-65535'],
    [1.5, '1.5: a port must be an integer 0-65535'],
    [NaN, 'NaN: a port must be an integer 0-65535'],
    [Infinity, 'Infinity: a port must be an integer 0-65535'],
    ['65536', '"65536": port 65536 out of range 0-65535'],
    ['80-65536', '"80-65536": port 65536 out of range 0-65535'],
    ['99999999999999999999', '"99999999999999999999": port 99999999999999999999 out of range 0-65535'],
    ['10-5', '"10-5": range start 10 is greater than end 5'],
    ['-1', '"-1": not a port number or "lo-hi" range of ports 0-65535'],
    ['1.5', '"1.5": not a port number or "lo-hi" range of ports 0-65535'],
    ['80-', '"80-": not a port number or "lo-hi" range of ports 0-65535'],
    ['-80', '"-80": not a port number or "lo-hi" range of ports 0-65535'],
    ['1-2-3', '"1-2-3": not a port number or "lo-hi" range of ports 0-65535'],
    ['http', '"http": not a port number or "lo-hi" range of ports 0-65535'],
    ['', '"": not a port number or "lo-hi" range of ports 0-65535'],
    ['0x50', '"0x50": not a port number or "lo-hi" range of ports 0-65535'],
    [true, 'expected a port number or "lo-hi" range, got boolean'],
    [null, 'expected a port number or "lo-hi" range, got object'],
  ])('refuses %j with NETWATCH_ERR_BAD_PORT naming the value', (spec, message) => {
    expect(caught(() => parsePortSpec(spec, '/queries/2/dstPort/1'))).toEqual({ code: 'NETWATCH_ERR_BAD_PORT', message, path: '/queries/2/dstPort/1' });
  });
});

describe('parsePortList', () => {
  it.each([
    [443, [[443, 443]]],
    ['443', [[443, 443]]],
    ['22,80-90', [[22, 22], [80, 90]]],
    [' 22 , 80-90 ,', [[22, 22], [80, 90]]],
    ['{22,443}', [[22, 22], [443, 443]]],
    [[22, '80-90', '8000,8080'], [[22, 22], [80, 90], [8000, 8000], [8080, 8080]]],
    ['', []],
    [[], []],
  ])('parses %j', (spec, want) => {
    expect(parsePortList(spec, '/port')).toEqual(want);
  });

  it.each([
    ['22,80-70', '/port/1', '"80-70": range start 80 is greater than end 70'],
    ['22,,x', '/port/1', '"x": not a port number or "lo-hi" range of ports 0-65535'],
    [[22, 443, 70000], '/port/2', '70000: port out of range 0-65535'],
    [[22, false], '/port/1', 'expected a port number or "lo-hi" range, got boolean'],
    [65536, '/port/0', '65536: port out of range 0-65535'],
  ])('refuses %j at the failing item path', (spec, path, message) => {
    expect(caught(() => parsePortList(spec, '/port'))).toEqual({ code: 'NETWATCH_ERR_BAD_PORT', message, path });
  });
});

describe('validatePortList', () => {
  it('gives one message per item, null for the valid ones', () => {
    expect(validatePortList(['22', '80-90', '90-80', 70000, 443])).toEqual([
      null,
      null,
      '"90-80": range start 90 is greater than end 80',
      '70000: port out of range 0-65535',
      null,
    ]);
  });
});

describe('portListMatches', () => {
  const ranges = parsePortList('22,80-90,65535');

  it.each([
    [21, false],
    [22, true],
    [23, false],
    [79, false],
    [80, true],
    [85, true],
    [90, true],
    [91, false],
    [0, false],
    [65534, false],
    [65535, true],
  ])('22,80-90,65535 matches port %d: %s', (port, want) => {
    expect(portListMatches(ranges, port)).toBe(want);
  });

  it('matches port 0 when listed, and an empty list matches nothing', () => {
    expect([portListMatches(parsePortList(0), 0), portListMatches([], 80)]).toEqual([true, false]);
  });
});
