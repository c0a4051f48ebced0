/**
 * `netwatch-ingest flows FILE...`: every flow of pcap/pcapng files, through the decoder and flow table that
 * `serve` uses, on the capture's own clock. Output is formatted into a large buffer and
 * written with fs.writeSync (flow-writer.ts).
 */
import { existsSync, writeSync } from 'node:fs';
import path from 'node:path';
import { CaptureFileReader, CaptureFormatError } from '../capture/pcap-file';
import { UsageError, commandArgs } from './args';
import { FLOW_FIELDS, FlowLineWriter } from '../flows/flow-writer';
import { OfflineFlowPass, flowTableHeader, flowTableRow, type OfflineFileResult } from '../flows/offline';
import type { FlowFilter } from '../flows/filter';
import type { IdleTimeouts } from '../flows/table';
import { parseCidr } from '../protocol/cidr';
import { parseProtocol } from '../protocol/ip-protocols';
import { parsePortSpec } from '../protocol/ports';

export const FLOWS_HELP = `Usage: netwatch-ingest flows FILE... [flags]

Prints every flow of the capture files (pcap or pcapng, any mix of link types), decoded and aggregated as
\`serve\` does: bidirectional 5-tuples, the initiator first (the SYN sender, else the first sender), packets and
bytes (the frames' length on the wire) per direction, times on the capture's own clock. Several files go
through one flow table, in the order given. Flows are printed as they finish (idle past their timeout, or
evicted at --max-flows), then the rest at the end; nothing is cut by retention.

Flags:
  --format FORMAT      table | json | csv (default table). json: one object per line with src_ip, src_port,
                       dst_ip, dst_port, protocol (IANA number), packets, bytes (initiator -> responder),
                       packets_rev, bytes_rev, first_seen, last_seen (epoch ms), tcp_flags, tcp_flags_rev, state.
  --cidr CIDR          only flows with either end in CIDR (IPv4 or IPv6; repeatable, or comma-separated)
  --src-cidr CIDR      only flows whose initiator is in CIDR
  --dst-cidr CIDR      only flows whose responder is in CIDR
  --port PORTS         only flows with either port in PORTS: a number or a range LO-HI (repeatable)
  --src-port PORTS     initiator's port
  --dst-port PORTS     responder's port
  --protocol PROTO     tcp, udp, icmp, icmpv6, ... or an IANA number (repeatable)
  --idle-timeout S     seconds without packets that end a flow, for every protocol (defaults: TCP 300,
                       UDP/ICMP/other 60; a closed TCP connection lingers 30)
  --max-flows N        flows held at once (default 1000000); beyond it the oldest idle flows are printed early
  --threads N          1 (default): one thread; 2: read and decode the files on a second thread while this one
                       aggregates, with the same output. On 2 cores shared with other work the second thread
                       was measured no faster (docs/benchmarks.md); it needs a core of its own.
  -h, --help           this help

ICMP and ICMPv6 carry the type and code in src_port and dst_port. Progress goes to stderr when it is a
terminal. A truncated file gives the flows of what could be read and a warning; exit codes: 0 success (also for
a truncated file), 1 a file is missing or not a capture, 2 usage error.
`;

export interface FlowsArgs {
  files: string[];
  format: 'table' | 'json' | 'csv';
  filter: FlowFilter;
  idleTimeoutMs?: Partial<IdleTimeouts>;
  maxFlows?: number;
  /** 1 (default): everything on this thread; 2: read and decode on a second one. */
  threads: 1 | 2;
  help: boolean;
}

export function parseFlowsArgs(argv: readonly string[]): FlowsArgs {
  const out: FlowsArgs = { files: [], format: 'table', filter: { cidr: [], srcCidr: [], dstCidr: [], port: [], srcPort: [], dstPort: [], protocol: [] }, threads: 1, help: false };
  for (const { arg: a, name, value } of commandArgs(argv)) {
    const items = () =>
      value()
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== '');
    const wrap = <T>(flag: string, fn: () => T): T => {
      try {
        return fn();
      } catch (e) {
        throw new UsageError(`${flag}: ${(e as Error).message}`);
      }
    };
    switch (name) {
      case '-h':
      case '--help':
        out.help = true;
        break;
      case '--format': {
        const v = value();
        if (v !== 'table' && v !== 'json' && v !== 'csv') throw new UsageError(`--format: expected table, json or csv (got ${JSON.stringify(v)})`);
        out.format = v;
        break;
      }
      case '--cidr':
      case '--src-cidr':
      case '--dst-cidr': {
        const key = name === '--cidr' ? 'cidr' : name === '--src-cidr' ? 'srcCidr' : 'dstCidr';
        for (const s of items()) out.filter[key].push(wrap(name, () => parseCidr(s)));
        break;
      }
      case '--port':
      case '--src-port':
      case '--dst-port': {
        const key = name === '--port' ? 'port' : name === '--src-port' ? 'srcPort' : 'dstPort';
        for (const s of items()) out.filter[key].push(wrap(name, () => parsePortSpec(s)));
        break;
      }
      case '--protocol':
        for (const s of items()) out.filter.protocol.push(wrap(name, () => parseProtocol(s)));
        break;
      case '--idle-timeout': {
        const v = Number(value());
        if (!Number.isFinite(v) || v <= 0 || v > 7 * 86400) throw new UsageError('--idle-timeout: expected seconds, more than 0 and at most 604800');
        const ms = Math.round(v * 1000);
        out.idleTimeoutMs = { tcp: ms, udp: ms, icmp: ms, other: ms };
        break;
      }
      case '--threads': {
        const v = value();
        if (v !== '1' && v !== '2') throw new UsageError('--threads: expected 1 or 2');
        out.threads = v === '1' ? 1 : 2;
        break;
      }
      case '--max-flows': {
        const v = Number(value());
        if (!Number.isInteger(v) || v < 1000 || v > 50_000_000) throw new UsageError('--max-flows: expected an integer from 1000 to 50000000');
        out.maxFlows = v;
        break;
      }
      default:
        if (a.startsWith('-')) throw new UsageError(`unknown flag ${a} (see --help)`);
        out.files.push(a);
    }
  }
  return out;
}

/**
 * The built reader thread (dist/flows-worker.js beside the bundle), or null where it is not built (tests run the
 * sources): the pass then reads and decodes on this thread, with the same results.
 */
function offlineWorkerScript(): string | null {
  const file = path.join(__dirname, 'flows-worker.js');
  return existsSync(file) ? file : null;
}

function fileError(file: string, e: unknown): string {
  if (e instanceof CaptureFormatError) return e.message.startsWith(file) ? e.message : `${file}: ${e.message}`;
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return `${file}: no such file`;
  if (err.code === 'EISDIR') return `${file}: is a directory, not a capture file`;
  if (err.code === 'EACCES') return `${file}: permission denied`;
  return `${file}: ${err.message}`;
}

export interface FlowsIo {
  stdout: number;
  stderr: (s: string) => void;
  stderrIsTTY: boolean;
}

export function flowsCommand(argv: string[], io: FlowsIo = { stdout: 1, stderr: (s) => process.stderr.write(s), stderrIsTTY: process.stderr.isTTY === true }): number {
  let args: FlowsArgs;
  try {
    args = parseFlowsArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`netwatch-ingest flows: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (args.help) {
    writeSync(io.stdout, FLOWS_HELP);
    return 0;
  }
  if (args.files.length === 0) {
    io.stderr(`netwatch-ingest flows: no capture file given\n\n${FLOWS_HELP}`);
    return 2;
  }

  // Every file is opened (and its header checked) before anything is printed.
  const readers: CaptureFileReader[] = [];
  for (const file of args.files) {
    try {
      readers.push(CaptureFileReader.open(file));
    } catch (e) {
      for (const r of readers) r.close();
      io.stderr(`netwatch-ingest flows: ${fileError(file, e)}\n`);
      return 1;
    }
  }

  const out = new FlowLineWriter(io.stdout, args.format === 'csv' ? 'csv' : 'json');
  if (args.format === 'csv') out.text(`${FLOW_FIELDS.join(',')}\n`);
  else if (args.format === 'table') out.text(`${flowTableHeader()}\n`);
  const workerScript = args.threads === 2 ? offlineWorkerScript() : null;
  const pass = new OfflineFlowPass({
    shared: workerScript !== null && args.format !== 'table',
    idleTimeoutMs: args.idleTimeoutMs,
    maxFlows: args.maxFlows,
    filter: args.filter,
    onFlow: args.format === 'table' ? (t, s, state) => out.text(`${flowTableRow(t, s, state)}\n`) : (t, s, state) => out.flow(t, s, state),
  });

  let packets = 0;
  let progressAt = 0;
  const fileDone = (i: number, r: OfflineFileResult) => {
    const file = args.files[i];
    packets += r.packets;
    if (io.stderrIsTTY) io.stderr('\r\x1b[K');
    // The reader's last warning says where a truncated or damaged file stopped; the others are skipped blocks.
    const notes = r.truncated ? r.warnings.slice(0, -1) : r.warnings;
    for (const w of notes) io.stderr(`netwatch-ingest flows: warning: ${file}: ${w}\n`);
    if (r.truncated) {
      const where = r.warnings[r.warnings.length - 1] ?? 'damaged record';
      io.stderr(`netwatch-ingest flows: warning: ${file}: ${where}; printed the flows of the ${r.packets} packets before it\n`);
    }
  };
  const showProgress = (i: number, read: number) => {
    const now = Date.now();
    if (now - progressAt < 200) return;
    progressAt = now;
    io.stderr(`\r${args.files[i]}: ${((100 * read) / Math.max(1, readers[i].size)).toFixed(1)} %`);
  };
  if (workerScript !== null) {
    // Reading and decoding on a second thread: the readers above only checked the headers.
    for (const r of readers) r.close();
    let current = 0;
    pass.addFilesPipelined(
      workerScript,
      args.files,
      (i, r) => {
        current = i + 1;
        fileDone(i, r);
      },
      io.stderrIsTTY ? (kib) => current < readers.length && showProgress(current, kib * 1024) : undefined,
    );
  } else {
    readers.forEach((reader, i) => {
      const r = pass.addFile(reader, io.stderrIsTTY ? (read) => showProgress(i, read) : undefined);
      fileDone(i, r);
    });
  }
  pass.finish(args.format === 'table' ? undefined : { format: args.format, write: (chunks) => out.writeChunks(chunks) });
  out.flush();
  if (io.stderrIsTTY) {
    const c = pass.decodeCounters;
    io.stderr(`${pass.flowsPrinted} flows from ${packets} packets (${c.decoded} decoded, ${c.packets - c.decoded} not IP or skipped)\n`);
  }
  return 0;
}

/** Runs the command and exits with its code, as `netwatch-ingest flows` (see bin/netwatch-ingest.js and cli.ts run()). */
export function runFlows(argv: string[]): void {
  let code: number;
  try {
    code = flowsCommand(argv);
  } catch (e) {
    process.stderr.write(`netwatch-ingest: ${(e as Error).message}\n`);
    code = 1;
  }
  process.exit(code);
}
