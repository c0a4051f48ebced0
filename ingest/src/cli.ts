/**
 * `netwatch-ingest`: the service (`serve`) and the offline commands. Exit codes: 0 success, 1 runtime
 * failure (one line on stderr, never a stack trace), 2 usage or configuration error.
 */
import { VERSION } from './version';

const MAIN_HELP = `Usage: netwatch-ingest <command> [flags]

Self-hosted network and security observability for Grafana.

Commands:
  serve       run the ingest service (flows, pings, logs, host metrics) and its HTTP query API
  flows       print the flows of pcap/pcapng files (table, JSON lines or CSV), as serve aggregates them
  logs        parse log files offline: events, or per-address totals (--summary) matching fail2ban
  version     print the version

Run 'netwatch-ingest <command> --help' for the flags of a command.
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(MAIN_HELP);
      return command === undefined ? 2 : 0;
    case 'version':
    case '--version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    // Commands load on demand: an offline command does not pay for the service's modules (fastify, SQLite).
    case 'serve':
      return (await import('./commands/serve')).serveCommand(rest);
    case 'flows':
      return (await import('./commands/flows')).flowsCommand(rest);
    case 'logs':
      return (await import('./commands/logs')).logsCommand(rest);
    default:
      process.stderr.write(`netwatch-ingest: unknown command "${command}"\n\n${MAIN_HELP}`);
      return 2;
  }
}

/** Runs the command line and exits with its code. */
export function run(argv: string[] = process.argv.slice(2)): void {
  main(argv).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`netwatch-ingest: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}

if (require.main === module) run();
