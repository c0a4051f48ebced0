/**
 * Writes small MaxMind DB files for the GeoIP tests, following the MaxMind DB format 2.0 specification
 * (maxmind.github.io/MaxMind-DB): a binary search tree of 24-bit records over IPv4, a 16-byte separator, the data
 * section, then the metadata after the "\xAB\xCD\xEFMaxMind.com" marker. Only what the tests need: one prefix.
 */
import { writeFileSync } from 'node:fs';

type Value = string | number | { u16: number } | { u64: number } | Value[] | { [k: string]: Value };

function control(type: number, size: number): Buffer {
  const ext = type > 7;
  const first = (ext ? 0 : type << 5) | (size < 29 ? size : 29);
  const bytes = [first];
  if (ext) bytes.push(type - 7);
  if (size >= 29) {
    if (size - 29 > 255) throw new Error('sizes above 284 are not needed here');
    bytes.push(size - 29);
  }
  return Buffer.from(bytes);
}

function uint(type: number, n: number): Buffer {
  const b: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) b.unshift(v % 256);
  return Buffer.concat([control(type, b.length), Buffer.from(b)]);
}

function encode(v: Value): Buffer {
  if (typeof v === 'string') {
    const s = Buffer.from(v, 'utf8');
    return Buffer.concat([control(2, s.length), s]);
  }
  if (typeof v === 'number') return uint(6, v);
  if (Array.isArray(v)) return Buffer.concat([control(11, v.length), ...v.map(encode)]);
  if ('u16' in v && typeof v.u16 === 'number') return uint(5, v.u16);
  if ('u64' in v && typeof v.u64 === 'number') return uint(9, v.u64);
  const entries = Object.entries(v as Record<string, Value>);
  return Buffer.concat([control(7, entries.length), ...entries.flatMap(([k, x]) => [encode(k), encode(x)])]);
}

/** A database answering `record` for every address of `prefix/24` and nothing for any other IPv4 address. */
export function writeMmdb(file: string, databaseType: string, prefix: string, record: Value): void {
  const bits = prefix.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const nodes = 24;
  const data = encode(record);
  const tree = Buffer.alloc(nodes * 6);
  for (let k = 0; k < nodes; k++) {
    const bit = Math.floor(bits / 2 ** (31 - k)) % 2;
    const next = k < nodes - 1 ? k + 1 : nodes + 16; // data at offset 0 of the data section
    const records = bit === 0 ? [next, nodes] : [nodes, next];
    tree.writeUIntBE(records[0], k * 6, 3);
    tree.writeUIntBE(records[1], k * 6 + 3, 3);
  }
  const metadata = encode({
    node_count: nodes,
    record_size: { u16: 24 },
    ip_version: { u16: 4 },
    database_type: databaseType,
    languages: ['en'],
    binary_format_major_version: { u16: 2 },
    binary_format_minor_version: { u16: 0 },
    build_epoch: { u64: 1_700_000_000 },
    description: { en: 'netwatch test database' },
  });
  writeFileSync(file, Buffer.concat([tree, Buffer.alloc(16), data, Buffer.from([0xab, 0xcd, 0xef]), Buffer.from('MaxMind.com'), metadata]));
}
