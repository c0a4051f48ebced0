/**
 * The demo's small network and what happens on it: a LAN (192.168.10.0/24 and 2001:db8:10::/64) with a gateway
 * that resolves DNS, a server running SSH, a NAS, workstations browsing the web over TLS and HTTP, syncing time,
 * downloading large files; an administrator's SSH session; and the internet knocking: one source scanning the
 * server's ports and then brute-forcing SSH until fail2ban bans it, one enumerating user names, a slow IPv6
 * guesser, and a sweep of port 445 across the LAN. Every packet is a real Ethernet frame (see frames.ts) and every log line is
 * what sshd, sudo, fail2ban, cron, systemd and the kernel's firewall write, so the same events show up in the
 * flow table and in the logs, with the same addresses and ports.
 *
 * Pure: time is a parameter (`advance(untilMs)`), randomness comes from the seed, nothing is read or written.
 * Sessions are generators yielding their packets and lines in time order; an agenda (a binary heap on time)
 * interleaves them, so memory holds one pending item per open session, not the packets of a transfer.
 * All addresses are from the documentation ranges (RFC 5737, RFC 3849) or private (RFC 1918).
 */
import {
  ACK,
  DNS_A,
  DNS_AAAA,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  FIN,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_TCP,
  PROTO_UDP,
  PSH,
  RST,
  SYN,
  dnsQuery,
  dnsResponse,
  echoMessage,
  ethernetFrame,
  httpRequest,
  httpResponseHead,
  ipPacket,
  macBytes,
  ntpPacket,
  sshIdentification,
  sshKexEcdhInit,
  sshKexEcdhReply,
  sshKexInit,
  sshNewKeys,
  tcpSegment,
  tlsClientHello,
  tlsRecord,
  udpDatagram,
} from './frames';
import { fail2banLine, isoLocal, kernelTime, syslogLine } from './log-lines';
import { SeededRandom } from './random';

export type DemoLogType = 'auth' | 'fail2ban' | 'syslog' | 'kern';

export interface DemoPacket {
  kind: 'packet';
  /** Capture time, epoch ms (fractional). */
  t: number;
  frame: Buffer;
}

export interface DemoLine {
  kind: 'log';
  t: number;
  type: DemoLogType;
  line: string;
}

export type DemoItem = DemoPacket | DemoLine;

interface Spawn {
  kind: 'spawn';
  t: number;
  session: Session;
  name: SessionName;
}

type Step = DemoItem | Spawn;
type Session = Iterator<Step, void, void>;

export const SESSION_NAMES = [
  'dns',
  'tls',
  'http',
  'ntp',
  'ping',
  'large_transfer',
  'backup',
  'admin_ssh',
  'ssh_brute_force',
  'user_enumeration',
  'ipv6_guesser',
  'fail2ban',
  'port_scan',
  'sweep',
  'syslog',
  'firewall_noise',
] as const;
type SessionName = (typeof SESSION_NAMES)[number];

interface Jail {
  banned(t: number): boolean;
  /** Records a failure; the spawn writes fail2ban's lines for it (null once banned: fail2ban ignores a banned address). */
  failure(t: number): Spawn | null;
}

interface Host {
  ip: string;
  mac: Buffer;
  /** On the captured LAN segment (else behind the gateway). */
  lan: boolean;
}

/** The addresses of the story, for tests and for the README. */
export const DEMO_ADDRESSES = {
  gateway: '192.168.10.1',
  gateway6: '2001:db8:10::1',
  server: '192.168.10.10',
  server6: '2001:db8:10::10',
  nas: '192.168.10.30',
  admin: '192.168.10.20',
  workstations: ['192.168.10.20', '192.168.10.21', '192.168.10.22', '192.168.10.23'],
  workstations6: ['2001:db8:10::20', '2001:db8:10::21'],
  bruteForcer: '203.0.113.45',
  enumerator: '203.0.113.77',
  guesser6: '2001:db8:bad::7',
  /** The brute-forcer scans the server's ports first, as attack tools do, then guesses passwords. */
  scanner: '203.0.113.45',
  sweeper: '192.0.2.200',
} as const;

const SERVICES4: ReadonlyArray<[string, string]> = [
  ['www.example.com', '198.51.100.10'],
  ['cdn.example.net', '198.51.100.11'],
  ['api.example.org', '198.51.100.12'],
  ['mail.example.com', '198.51.100.13'],
  ['news.example.net', '198.51.100.14'],
];
const SERVICES6: ReadonlyArray<[string, string]> = [
  ['www.example.com', '2001:db8:443::10'],
  ['cdn.example.net', '2001:db8:443::11'],
];
const MIRROR: [string, string] = ['mirror.example.org', '198.51.100.20'];
const NTP_SERVER = '198.51.100.123';
const OPEN_PORTS = new Set([22, 80, 443]);
const SCAN_PORTS = [21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 443, 445, 465, 587, 993, 995, 1433, 1521, 1723, 2049, 2375, 3000, 3306, 3389, 5000, 5432, 5900, 5984, 6379, 8000, 8080, 8081, 8443, 8888, 9000, 9090, 9200, 11211, 27017];
const ATTACK_USERS: ReadonlyArray<[string, boolean]> = [
  ['root', true],
  ['admin', false],
  ['root', true],
  ['ubuntu', false],
  ['root', true],
  ['oracle', false],
  ['test', false],
  ['root', true],
];
const ENUM_USERS = ['guest', 'support', 'deploy', 'jenkins', 'ftpuser', 'minecraft', 'hadoop', 'steam', 'nagios', 'tomcat'];

/** Period of the attacks: each campaign repeats this long after the previous one started. */
export const ATTACK_CYCLE_MS = 15 * 60_000;
/** fail2ban's defaults (jail.conf): maxretry 5 failures within findtime 600 s ban for bantime 600 s. */
const F2B_MAXRETRY = 5;
const F2B_FINDTIME_MS = 600_000;
const F2B_BANTIME_MS = 600_000;

export interface ScenarioOptions {
  seed: number;
  /** Epoch ms where the story starts (the first items are generated from here). */
  startMs: number;
  /** When the first attack campaign starts (then every ATTACK_CYCLE_MS). Default: startMs. */
  attacksAtMs?: number;
  /** Host name in the log lines. */
  hostname?: string;
  /** Open sessions at most; a session arriving beyond it is dropped and counted. Default 10,000. */
  maxSessions?: number;
}

export interface ScenarioCounters {
  packets: number;
  bytes: number;
  lines: Record<DemoLogType, number>;
  sessions: Record<SessionName, number>;
  sessionsDropped: number;
  open: number;
}

interface AgendaEntry {
  t: number;
  seq: number;
  item: Step;
  session: Session;
}

/** Min-heap on (t, seq): equal times keep their insertion order, so a seed always gives one sequence. */
class Agenda {
  private readonly heap: AgendaEntry[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(item: Step, session: Session): void {
    const e: AgendaEntry = { t: item.t, seq: this.seq++, item, session };
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  peek(): AgendaEntry | undefined {
    return this.heap[0];
  }

  pop(): AgendaEntry | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l], h[m])) m = l;
        if (r < h.length && less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

/** A sub-sequence (which returns its end time) run as a session of its own. */
function* asSession(g: Generator<Step, number, void>): Session {
  yield* g;
}

function less(a: AgendaEntry, b: AgendaEntry): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}

const ZEROS = Buffer.alloc(65536);

export class DemoScenario {
  private readonly rnd: SeededRandom;
  private readonly agenda = new Agenda();
  private readonly host: string;
  private readonly maxSessions: number;
  private readonly routerMac = macBytes('02:00:5e:10:00:01');
  private readonly hosts = new Map<string, Host>();
  private readonly startMs: number;
  private ipId = 1;
  private pid = 20_000;
  private sessionNo = 3;
  private readonly bootMs: number;
  private readonly c: ScenarioCounters;

  constructor(opts: ScenarioOptions) {
    this.rnd = new SeededRandom(opts.seed);
    this.host = opts.hostname ?? 'netwatch-demo';
    this.maxSessions = opts.maxSessions ?? 10_000;
    this.startMs = opts.startMs;
    this.bootMs = opts.startMs - 3 * 86_400_000;
    this.c = {
      packets: 0,
      bytes: 0,
      lines: { auth: 0, fail2ban: 0, syslog: 0, kern: 0 },
      sessions: Object.fromEntries(SESSION_NAMES.map((n) => [n, 0])) as Record<SessionName, number>,
      sessionsDropped: 0,
      open: 0,
    };
    const attacksAt = opts.attacksAtMs ?? opts.startMs;
    const s = opts.startMs;
    // Arrival processes of the background traffic (mean gaps in ms) and the periodic campaigns.
    this.start(this.poisson('dns', s, 1500, (t) => this.dns(t, false)));
    this.start(this.poisson('dns', s + 700, 6000, (t) => this.dns(t, true)));
    this.start(this.poisson('tls', s + 200, 3000, (t) => this.tls(t, false)));
    this.start(this.poisson('tls', s + 900, 8000, (t) => this.tls(t, true)));
    this.start(this.poisson('http', s + 400, 10_000, (t) => this.http(t)));
    this.start(this.periodic('ntp', s + 1000, 32_000, (t) => this.ntp(t)));
    this.start(this.periodic('ping', s + 300, 5000, (t) => this.ping(t, false)));
    this.start(this.periodic('ping', s + 2300, 10_000, (t) => this.ping(t, true)));
    this.start(this.periodic('large_transfer', s + 8000, 240_000, (t) => this.largeTransfer(t)));
    this.start(this.periodic('backup', s + 45_000, 600_000, (t) => this.backup(t)));
    this.start(this.periodic('admin_ssh', s + 2000, 420_000, (t) => this.adminSsh(t)));
    this.start(this.periodic('syslog', s + 1500, 60_000, (t) => this.syslogMinute(t)));
    this.start(this.poisson('firewall_noise', s + 5000, 20_000, (t) => this.firewallNoise(t)));
    this.start(this.periodic('ssh_brute_force', attacksAt + 14_000, ATTACK_CYCLE_MS, (t) => this.bruteForce(t)));
    this.start(this.periodic('port_scan', attacksAt + 2000, ATTACK_CYCLE_MS, (t) => this.portScan(t)));
    this.start(this.periodic('user_enumeration', attacksAt + 20_000, ATTACK_CYCLE_MS, (t) => this.userEnumeration(t)));
    this.start(this.periodic('sweep', attacksAt + 25_000, ATTACK_CYCLE_MS, (t) => this.sweep(t)));
    this.start(this.periodic('ipv6_guesser', attacksAt + 30_000, ATTACK_CYCLE_MS, (t) => this.ipv6Guesser(t)));
  }

  counters(): ScenarioCounters {
    return { ...this.c, lines: { ...this.c.lines }, sessions: { ...this.c.sessions }, open: this.agenda.size };
  }

  /** Hands every packet and line up to `untilMs` (inclusive) to the callbacks, in time order; returns how many. */
  advance(untilMs: number, onPacket: (p: DemoPacket) => void, onLine: (l: DemoLine) => void): number {
    let n = 0;
    for (let e = this.agenda.peek(); e && e.t <= untilMs; e = this.agenda.peek()) {
      this.agenda.pop();
      const item = e.item;
      if (item.kind === 'spawn') {
        if (this.agenda.size >= this.maxSessions) this.c.sessionsDropped++;
        else {
          this.c.sessions[item.name]++;
          this.start(item.session);
        }
      } else if (item.kind === 'packet') {
        this.c.packets++;
        this.c.bytes += item.frame.length;
        onPacket(item);
        n++;
      } else {
        this.c.lines[item.type]++;
        onLine(item);
        n++;
      }
      this.continue(e.session);
    }
    return n;
  }

  private start(session: Session): void {
    this.continue(session);
  }

  private continue(session: Session): void {
    const r = session.next();
    if (!r.done) this.agenda.push(r.value, session);
  }

  // ---- arrivals ----

  private *poisson(name: SessionName, firstMs: number, meanGapMs: number, make: (t: number) => Session): Session {
    for (let t = firstMs; ; t += this.rnd.exponential(meanGapMs)) yield { kind: 'spawn', t, session: make(t), name };
  }

  private *periodic(name: SessionName, firstMs: number, periodMs: number, make: (t: number) => Session): Session {
    for (let t = firstMs; ; t += periodMs) yield { kind: 'spawn', t, session: make(t), name };
  }

  // ---- building blocks ----

  private hostOf(ip: string): Host {
    let h = this.hosts.get(ip);
    if (!h) {
      const lan = ip.startsWith('192.168.10.') || ip.startsWith('2001:db8:10::');
      const n = this.hosts.size + 0x10;
      h = { ip, lan, mac: lan ? macBytes(`02:42:c0:a8:${((n >> 8) & 0xff).toString(16)}:${(n & 0xff).toString(16)}`) : this.routerMac };
      this.hosts.set(ip, h);
    }
    return h;
  }

  /** One IP packet on the captured segment, framed with the MACs of its LAN end and the gateway. */
  packet(t: number, src: string, dst: string, protocol: number, transport: Buffer, ttl?: number): DemoPacket {
    const a = this.hostOf(src);
    const b = this.hostOf(dst);
    const v6 = src.includes(':');
    const ip = ipPacket({ src, dst, protocol, payload: transport, ttl: ttl ?? (a.lan ? 64 : 52), id: this.ipId++ & 0xffff });
    const srcMac = a.lan ? a.mac : this.routerMac;
    const dstMac = b.lan ? b.mac : this.routerMac;
    return { kind: 'packet', t, frame: ethernetFrame(srcMac, dstMac, v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4, ip) };
  }

  private line(t: number, type: DemoLogType, program: string, pid: number | null, message: string): DemoLine {
    return { kind: 'log', t, type, line: syslogLine(t, this.host, program, pid, message) };
  }

  private f2b(t: number, module: 'filter' | 'actions', level: 'INFO' | 'NOTICE', message: string): DemoLine {
    return { kind: 'log', t, type: 'fail2ban', line: fail2banLine(t, module, 812, level, message) };
  }

  private ephemeralPort(): number {
    return this.rnd.int(32768, 60999);
  }

  private nextPid(): number {
    this.pid += this.rnd.int(1, 40);
    if (this.pid > 4_000_000) this.pid = 20_000;
    return this.pid;
  }

  private payload(n: number): Buffer {
    return ZEROS.subarray(0, Math.min(n, ZEROS.length));
  }

  private tcp(client: string, server: string, sport: number, dport: number): TcpConnection {
    return new TcpConnection(this, client, server, sport, dport, this.rnd.u32(), this.rnd.u32());
  }

  // ---- background traffic ----

  private *dns(t0: number, v6: boolean): Session {
    const client = this.rnd.pick(v6 ? DEMO_ADDRESSES.workstations6 : DEMO_ADDRESSES.workstations);
    const resolver = v6 ? DEMO_ADDRESSES.gateway6 : DEMO_ADDRESSES.gateway;
    const [name, address] = this.rnd.pick([...SERVICES4, MIRROR]);
    const sport = this.ephemeralPort();
    let t = t0;
    for (const qtype of v6 ? [DNS_AAAA] : this.rnd.next() < 0.5 ? [DNS_A, DNS_AAAA] : [DNS_A]) {
      const id = this.rnd.int(0, 0xffff);
      yield this.packet(t, client, resolver, PROTO_UDP, udpDatagram({ src: client, dst: resolver, sport, dport: 53, payload: dnsQuery(id, name, qtype) }));
      t += this.rnd.next() < 0.8 ? 0.3 + this.rnd.next() : 15 + this.rnd.next() * 40;
      const answer = qtype === DNS_A ? address : SERVICES6.find(([n]) => n === name)?.[1] ?? '2001:db8:443::99';
      yield this.packet(t, resolver, client, PROTO_UDP, udpDatagram({ src: resolver, dst: client, sport: 53, dport: sport, payload: dnsResponse(id, name, qtype, answer, 300) }));
      t += 0.2;
    }
  }

  private *tls(t0: number, v6: boolean): Session {
    const client = this.rnd.pick(v6 ? DEMO_ADDRESSES.workstations6 : DEMO_ADDRESSES.workstations);
    const [name, server] = this.rnd.pick(v6 ? SERVICES6 : SERVICES4);
    const rtt = 8 + this.rnd.next() * 50;
    const c = this.tcp(client, server, this.ephemeralPort(), 443);
    let t = yield* c.handshake(t0, rtt);
    const random = Buffer.alloc(32);
    random.writeUInt32BE(this.rnd.u32(), 0);
    yield c.send(t, true, tlsClientHello(name, random));
    t += rtt;
    t = yield* c.stream(t, false, 2800 + this.rnd.int(0, 1800), 40_000_000);
    yield c.send((t += 0.4), true, tlsRecord(20, this.payload(1)));
    t += rtt;
    yield c.send(t, false, tlsRecord(22, this.payload(48)));
    // Requests and responses of the page: a few exchanges of application data.
    for (let i = this.rnd.int(1, 4); i > 0; i--) {
      t += 5 + this.rnd.next() * 300;
      yield c.send(t, true, tlsRecord(23, this.payload(this.rnd.int(280, 900))));
      t += rtt;
      t = yield* c.stream(t, false, this.rnd.int(900, 120_000), 20_000_000);
    }
    yield* c.close(t + this.rnd.next() * 4000, true, rtt);
  }

  private *http(t0: number): Session {
    const client = this.rnd.pick(DEMO_ADDRESSES.workstations);
    const [name, server] = this.rnd.pick(SERVICES4);
    const rtt = 10 + this.rnd.next() * 40;
    const c = this.tcp(client, server, this.ephemeralPort(), 80);
    let t = yield* c.handshake(t0, rtt);
    yield c.send(t, true, httpRequest(name, this.rnd.pick(['/', '/index.html', '/news', '/images/logo.png', '/feed.xml'])));
    t += rtt;
    const body = this.rnd.int(800, 40_000);
    yield c.send(t, false, httpResponseHead(body));
    t = yield* c.stream(t + 0.2, false, body, 10_000_000);
    // Connection: close — the server closes first.
    yield* c.close(t + 0.5, false, rtt);
  }

  private *ntp(t0: number): Session {
    const client = DEMO_ADDRESSES.server;
    const ntpNow = Math.floor(t0 / 1000) + 2_208_988_800;
    yield this.packet(t0, client, NTP_SERVER, PROTO_UDP, udpDatagram({ src: client, dst: NTP_SERVER, sport: 123, dport: 123, payload: ntpPacket(false, ntpNow) }));
    yield this.packet(t0 + 18 + this.rnd.next() * 6, NTP_SERVER, client, PROTO_UDP, udpDatagram({ src: NTP_SERVER, dst: client, sport: 123, dport: 123, payload: ntpPacket(true, ntpNow) }));
  }

  private *ping(t0: number, v6: boolean): Session {
    const client = v6 ? DEMO_ADDRESSES.workstations6[0] : DEMO_ADDRESSES.workstations[1];
    const target = v6 ? DEMO_ADDRESSES.gateway6 : DEMO_ADDRESSES.gateway;
    const protocol = v6 ? PROTO_ICMPV6 : PROTO_ICMP;
    const id = 0x4e57;
    const seq = Math.floor((t0 - this.startMs) / 1000) & 0xffff;
    yield this.packet(t0, client, target, protocol, echoMessage({ src: client, dst: target, request: true, id, seq }));
    yield this.packet(t0 + 0.3 + this.rnd.next() * 0.5, target, client, protocol, echoMessage({ src: target, dst: client, request: false, id, seq }));
  }

  /** A workstation downloads a release image from the mirror over TLS: tens of megabytes at a few MB/s. */
  private *largeTransfer(t0: number): Session {
    const client = this.rnd.pick(DEMO_ADDRESSES.workstations);
    const rtt = 20 + this.rnd.next() * 10;
    const c = this.tcp(client, MIRROR[1], this.ephemeralPort(), 443);
    let t = yield* c.handshake(t0, rtt);
    const random = Buffer.alloc(32);
    yield c.send(t, true, tlsClientHello(MIRROR[0], random));
    t += rtt;
    t = yield* c.stream(t, false, 4200, 40_000_000);
    yield c.send((t += 0.4), true, tlsRecord(23, this.payload(420)));
    t += rtt;
    t = yield* c.stream(t, false, this.rnd.int(20, 45) * 1_000_000, this.rnd.int(2, 4) * 1_000_000);
    yield* c.close(t + 1, true, rtt);
  }

  /** The server pushes its nightly-style rsync backup to the NAS: a LAN transfer at 8 MB/s. */
  private *backup(t0: number): Session {
    const c = this.tcp(DEMO_ADDRESSES.server, DEMO_ADDRESSES.nas, this.ephemeralPort(), 873);
    let t = yield* c.handshake(t0, 0.4);
    yield c.send(t, true, Buffer.from('@RSYNCD: 31.0\n'));
    yield c.send((t += 0.5), false, Buffer.from('@RSYNCD: 31.0\n'));
    t = yield* c.stream(t + 1, true, this.rnd.int(25, 35) * 1_000_000, 8_000_000);
    yield* c.close(t + 2, true, 0.4);
  }

  /** alice logs in to the server with her key, works a few minutes (one sudo), and logs out. */
  private *adminSsh(t0: number): Session {
    const user = 'alice';
    const client = DEMO_ADDRESSES.admin;
    const server = DEMO_ADDRESSES.server;
    const sport = this.ephemeralPort();
    const c = this.tcp(client, server, sport, 22);
    const pid = this.nextPid();
    let t = yield* c.handshake(t0, 0.6);
    yield c.send(t, true, sshIdentification('OpenSSH_9.2p1 Debian-2+deb12u3'));
    yield c.send((t += 2), false, sshIdentification('OpenSSH_9.2p1 Debian-2+deb12u3'));
    t = yield* this.sshKeyExchange(c, t + 1, 0.6);
    yield this.line((t += 40), 'auth', 'sshd', pid, `Accepted publickey for ${user} from ${client} port ${sport} ssh2: ED25519 SHA256:Vq2kHh0bq6gI1sH5mQe8dXo3n9p4f7u2WcYtLrA1bZs`);
    yield this.line((t += 2), 'auth', 'sshd', pid, `pam_unix(sshd:session): session opened for user ${user}(uid=1000) by (uid=0)`);
    const session = this.sessionNo++;
    yield this.line((t += 3), 'auth', 'systemd-logind', 412, `New session ${session} of user ${user}.`);
    const end = t + this.rnd.int(180, 360) * 1000;
    let sudoDone = false;
    while (t < end) {
      t += 300 + this.rnd.exponential(1500);
      yield c.send(t, true, this.payload(36 + 16 * this.rnd.int(0, 4)));
      yield c.send((t += 1 + this.rnd.next() * 3), false, this.payload(36 + 16 * this.rnd.int(0, 12)));
      if (!sudoDone && t > end - 120_000) {
        sudoDone = true;
        yield this.line((t += 5), 'auth', 'sudo', null, `   ${user} : TTY=pts/0 ; PWD=/home/${user} ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx`);
        yield this.line((t += 1), 'auth', 'sudo', null, `pam_unix(sudo:session): session opened for user root(uid=0) by ${user}(uid=1000)`);
        yield this.line((t += 900), 'auth', 'sudo', null, 'pam_unix(sudo:session): session closed for user root');
      }
    }
    yield this.line((t += 10), 'auth', 'sshd', pid, `Received disconnect from ${client} port ${sport}:11: disconnected by user`);
    yield this.line((t += 1), 'auth', 'sshd', pid, `Disconnected from user ${user} ${client} port ${sport}`);
    yield* c.close(t + 1, true, 0.6);
    yield this.line((t += 30), 'auth', 'sshd', pid, `pam_unix(sshd:session): session closed for user ${user}`);
    yield this.line((t += 2), 'auth', 'systemd-logind', 412, `Session ${session} logged out. Waiting for processes to exit.`);
  }

  /** Both KEXINITs, the curve25519 exchange and both NEWKEYS (RFC 4253 §7); everything after is encrypted. */
  private *sshKeyExchange(c: TcpConnection, t: number, rtt: number): Generator<DemoPacket, number, void> {
    const bytes = (n: number) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i += 4) b.writeUInt32BE(this.rnd.u32(), i);
      return b;
    };
    yield c.send(t, true, sshKexInit(bytes(16)));
    yield c.send((t += rtt / 2), false, sshKexInit(bytes(16)));
    yield c.send((t += rtt / 2), true, sshKexEcdhInit(bytes(32)));
    t += rtt / 2 + 1;
    yield c.send(t, false, Buffer.concat([sshKexEcdhReply(bytes(32), bytes(32), bytes(64)), sshNewKeys()]));
    yield c.send((t += rtt / 2), true, sshNewKeys());
    return t + 0.1;
  }

  // ---- syslog background ----

  private *syslogMinute(t0: number): Session {
    let t = t0;
    const cronPid = this.nextPid();
    yield this.line(t, 'auth', 'CRON', cronPid, 'pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)');
    yield this.line((t += 2), 'syslog', 'CRON', cronPid, '(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)');
    yield this.line((t += 40), 'auth', 'CRON', cronPid, 'pam_unix(cron:session): session closed for user root');
    const minute = Math.floor((t0 - this.startMs) / 60_000);
    if (minute % 5 === 1) {
      yield this.line((t += 500), 'syslog', 'systemd', 1, 'Starting apt-daily.service - Daily apt download activities...');
      yield this.line((t += 2400), 'syslog', 'systemd', 1, 'apt-daily.service: Deactivated successfully.');
      yield this.line((t += 1), 'syslog', 'systemd', 1, 'Finished apt-daily.service - Daily apt download activities.');
    }
    if (minute % 4 === 2) {
      // A failing backup job: the error-level lines become error traces with a root-cause hint.
      const pid = this.nextPid();
      yield this.line((t += 3000), 'syslog', 'systemd', 1, 'Starting backup.service - Nightly backup to the NAS...');
      yield this.line((t += 4200), 'syslog', 'backup.sh', pid, `rsync: [sender] write error: Broken pipe (32)`);
      yield this.line((t += 5), 'syslog', 'backup.sh', pid, `rsync error: error in rsync protocol data stream (code 12) at io.c(848) [sender=3.2.7]`);
      yield this.line((t += 20), 'syslog', 'systemd', 1, 'backup.service: Main process exited, code=exited, status=12/n/a');
      yield this.line((t += 1), 'syslog', 'systemd', 1, "backup.service: Failed with result 'exit-code'.");
      yield this.line((t += 1), 'syslog', 'systemd', 1, 'Failed to start backup.service - Nightly backup to the NAS.');
    }
    if (minute % 7 === 3) {
      const pid = this.nextPid();
      const when = isoLocal((t += 900)).replace(/-/g, '/');
      const request = `client: ${DEMO_ADDRESSES.workstations[2]}, server: intranet, request: "GET /api/status HTTP/1.1", upstream: "http://127.0.0.1:8080/api/status"`;
      yield this.line(t, 'syslog', 'nginx', pid, `${when} [error] ${pid}#${pid}: *${this.rnd.int(100, 9999)} connect() failed (111: Connection refused) while connecting to upstream, ${request}`);
    }
    if (minute % 15 === 9) {
      yield this.line((t += 700), 'kern', 'kernel', null, `${kernelTime((t - this.bootMs) / 1000)} Out of memory: Killed process ${this.nextPid()} (java) total-vm:4212344kB, anon-rss:1830220kB, file-rss:0kB, shmem-rss:0kB, UID:1001 pgtables:4120kB oom_score_adj:0`);
    }
  }

  /** Unsolicited packets from the internet that the gateway's UFW drops, as kern.log shows them. */
  private *firewallNoise(t0: number): Session {
    const src = `203.0.113.${this.rnd.int(100, 250)}`;
    const dport = this.rnd.pick([23, 3389, 8080, 5555, 2323, 1433]);
    yield this.ufwBlock(t0, src, DEMO_ADDRESSES.gateway, this.ephemeralPort(), dport);
  }

  private ufwBlock(t: number, src: string, dst: string, sport: number, dport: number): DemoLine {
    const uptime = kernelTime((t - this.bootMs) / 1000);
    return this.line(
      t,
      'kern',
      'kernel',
      null,
      `${uptime} [UFW BLOCK] IN=eth0 OUT= MAC=02:42:c0:a8:00:0a:02:00:5e:10:00:01:08:00 SRC=${src} DST=${dst} LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=${this.rnd.int(1, 65535)} DF PROTO=TCP SPT=${sport} DPT=${dport} WINDOW=64240 RES=0x00 SYN URGP=0`,
    );
  }

  // ---- attacks ----

  /**
   * fail2ban's view of one address: failures within findtime, and the ban. A failure at `t` yields one spawn at
   * `t` whose session writes Found (and Ban, and later Unban), so every session's items stay in time order.
   */
  private jail(ip: string): Jail {
    const founds: number[] = [];
    let bannedUntil = -Infinity;
    const lines = (t: number, ban: boolean): Session => {
      const self = this;
      return (function* (): Session {
        yield self.f2b(t + 150, 'filter', 'INFO', `[sshd] Found ${ip} - ${isoLocal(t)}`);
        if (ban) {
          yield self.f2b(t + 600, 'actions', 'NOTICE', `[sshd] Ban ${ip}`);
          yield self.f2b(t + 600 + F2B_BANTIME_MS, 'actions', 'NOTICE', `[sshd] Unban ${ip}`);
        }
      })();
    };
    return {
      banned: (t: number) => t < bannedUntil,
      failure(t: number): Spawn | null {
        if (t < bannedUntil) return null;
        founds.push(t);
        while (founds.length > 0 && founds[0] < t - F2B_FINDTIME_MS) founds.shift();
        const ban = founds.length >= F2B_MAXRETRY;
        if (ban) {
          founds.length = 0;
          bannedUntil = t + 600 + F2B_BANTIME_MS;
        }
        return { kind: 'spawn', t, name: 'fail2ban', session: lines(t, ban) };
      },
    };
  }

  /** A connection refused by the firewall after a ban: SYN and its retransmissions, each dropped and logged. */
  private *blockedConnection(t0: number, ip: string, server: string): Generator<Step, number, void> {
    const sport = this.ephemeralPort();
    const c = this.tcp(ip, server, sport, 22);
    let t = t0;
    for (const gap of [0, 1000, 2000, 4000]) {
      t += gap;
      yield c.segment(t, true, SYN, undefined, false);
      yield this.ufwBlock(t + 0.2, ip, server, sport, 22);
    }
    return t;
  }

  /**
   * One source guesses passwords: a connection every few seconds, three attempts each for a user name from a
   * list (root, or names that do not exist), until fail2ban bans it; it keeps trying for a while after that.
   */
  private *bruteForce(t0: number): Session {
    const ip = DEMO_ADDRESSES.bruteForcer;
    const server = DEMO_ADDRESSES.server;
    const jail = this.jail(ip);
    const end = t0 + 90_000;
    let t = t0;
    for (let n = 0; t < end; n++) {
      if (jail.banned(t)) {
        // The tool's threads keep opening connections, each retransmitting its SYN into the firewall.
        yield { kind: 'spawn', t, name: 'ssh_brute_force', session: asSession(this.blockedConnection(t, ip, server)) };
        t += 1500 + this.rnd.next() * 1000;
        continue;
      }
      const [user, exists] = ATTACK_USERS[n % ATTACK_USERS.length];
      t = yield* this.sshGuess(t, ip, server, user, exists, 3, jail);
      t += 500 + this.rnd.next() * 1500;
    }
  }

  /** Names that do not exist, one connection each and no password: what enumeration bots do. */
  private *userEnumeration(t0: number): Session {
    const ip = DEMO_ADDRESSES.enumerator;
    const jail = this.jail(ip);
    let t = t0;
    for (const user of ENUM_USERS) {
      if (jail.banned(t)) t = yield* this.blockedConnection(t, ip, DEMO_ADDRESSES.server);
      else t = yield* this.sshGuess(t, ip, DEMO_ADDRESSES.server, user, false, 0, jail);
      t += 3000 + this.rnd.next() * 3000;
    }
  }

  /** A slow guesser over IPv6: three single attempts a minute apart, below fail2ban's threshold. */
  private *ipv6Guesser(t0: number): Session {
    const jail = this.jail(DEMO_ADDRESSES.guesser6);
    let t = t0;
    for (let i = 0; i < 3; i++) {
      t = yield* this.sshGuess(t, DEMO_ADDRESSES.guesser6, DEMO_ADDRESSES.server6, 'root', true, 1, jail);
      t += 50_000 + this.rnd.next() * 20_000;
    }
  }

  /**
   * One SSH connection that fails: the TCP handshake and identification exchange, `attempts` passwords for
   * `user` (each one failure with sshd's delay), then the client gives up. With 0 attempts, the user name alone
   * is tried (Invalid user, then the connection closes in preauth).
   */
  private *sshGuess(t0: number, ip: string, server: string, user: string, exists: boolean, attempts: number, jail: Jail): Generator<Step, number, void> {
    const sport = this.ephemeralPort();
    const c = this.tcp(ip, server, sport, 22);
    const pid = this.nextPid();
    const rtt = 80 + this.rnd.next() * 60;
    let t = yield* c.handshake(t0, rtt);
    yield c.send(t, false, sshIdentification('OpenSSH_9.2p1 Debian-2+deb12u3'));
    yield c.send((t += rtt / 2), true, sshIdentification('libssh_0.9.6'));
    t = yield* this.sshKeyExchange(c, t + rtt, rtt);
    yield c.send((t += rtt), true, this.payload(64));
    if (!exists) {
      yield this.line((t += 20), 'auth', 'sshd', pid, `Invalid user ${user} from ${ip} port ${sport}`);
      const f = jail.failure(t);
      if (f) yield f;
    }
    for (let i = 0; i < attempts; i++) {
      // Once banned, the firewall drops the rest of this connection too: sshd hears nothing more from it.
      if (jail.banned(t)) return t;
      yield c.send((t += rtt + 200), true, this.payload(96));
      t += 2000 + this.rnd.next() * 400;
      if (exists) {
        yield this.line(t - 5, 'auth', 'sshd', pid, `pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=${ip}  user=${user}`);
      } else {
        yield this.line(t - 6, 'auth', 'sshd', pid, 'pam_unix(sshd:auth): check pass; user unknown');
        yield this.line(t - 5, 'auth', 'sshd', pid, `pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=${ip}`);
      }
      yield this.line(t, 'auth', 'sshd', pid, `Failed password for ${exists ? '' : 'invalid user '}${user} from ${ip} port ${sport} ssh2`);
      const f = jail.failure(t);
      if (f) yield f;
      yield c.send((t += 200), false, this.payload(52));
    }
    if (jail.banned(t)) return t;
    yield this.line((t += rtt + 300), 'auth', 'sshd', pid, `Connection closed by ${exists ? 'authenticating user' : 'invalid user'} ${user} ${ip} port ${sport} [preauth]`);
    return yield* c.close(t, true, rtt);
  }

  /** SYNs to 40 ports of the server in a few seconds: closed ports answer RST, open ones SYN-ACK (then RST). */
  private *portScan(t0: number): Session {
    const ip = DEMO_ADDRESSES.scanner;
    const server = DEMO_ADDRESSES.server;
    const sport = this.ephemeralPort();
    const ports = [...SCAN_PORTS];
    for (let i = ports.length - 1; i > 0; i--) {
      const j = this.rnd.int(0, i);
      [ports[i], ports[j]] = [ports[j], ports[i]];
    }
    let t = t0;
    for (const port of ports) {
      const c = this.tcp(ip, server, sport, port);
      yield c.segment(t, true, SYN, undefined, false);
      if (OPEN_PORTS.has(port)) {
        yield c.segment(t + 30, false, SYN | ACK);
        yield c.segment(t + 30.1, true, RST);
      } else {
        yield c.segment(t + 30, false, RST | ACK);
      }
      t += 120 + this.rnd.next() * 80;
    }
  }

  /** SYNs to port 445 of 60 LAN addresses: most have no host behind them, two answer. */
  private *sweep(t0: number): Session {
    const ip = DEMO_ADDRESSES.sweeper;
    let t = t0;
    for (let h = 2; h < 62; h++) {
      const dst = `192.168.10.${h}`;
      const c = this.tcp(ip, dst, this.ephemeralPort(), 445);
      yield c.segment(t, true, SYN, undefined, false);
      if (dst === DEMO_ADDRESSES.server) yield c.segment(t + 1, false, RST | ACK);
      else if (dst === DEMO_ADDRESSES.nas) {
        yield c.segment(t + 1, false, SYN | ACK);
        yield c.segment(t + 1.1, true, RST);
      }
      t += 60 + this.rnd.next() * 40;
    }
  }
}

/** Both ends' sequence numbers of one TCP connection, so every segment it yields is consistent with the last. */
class TcpConnection {
  constructor(
    private readonly s: DemoScenario,
    private readonly client: string,
    private readonly server: string,
    private readonly sport: number,
    private readonly dport: number,
    private cseq: number,
    private sseq: number,
  ) {}

  /** One segment; SYN and FIN count one sequence number (RFC 9293 §3.4). `advance` false for a retransmission. */
  segment(t: number, fromClient: boolean, flags: number, payload?: Buffer, advance = true): DemoPacket {
    const [src, dst, sport, dport] = fromClient ? [this.client, this.server, this.sport, this.dport] : [this.server, this.client, this.dport, this.sport];
    const seq = fromClient ? this.cseq : this.sseq;
    const ack = fromClient ? this.sseq : this.cseq;
    const transport = tcpSegment({ src, dst, sport, dport, seq, ack, flags, payload, mss: flags & SYN ? (src.includes(':') ? 1440 : 1460) : undefined });
    const len = (payload?.length ?? 0) + (flags & SYN ? 1 : 0) + (flags & FIN ? 1 : 0);
    if (advance) {
      if (fromClient) this.cseq = (this.cseq + len) >>> 0;
      else this.sseq = (this.sseq + len) >>> 0;
    }
    return this.s.packet(t, src, dst, PROTO_TCP, transport);
  }

  send(t: number, fromClient: boolean, payload: Buffer): DemoPacket {
    return this.segment(t, fromClient, PSH | ACK, payload);
  }

  /** SYN, SYN-ACK, ACK; returns the time the handshake completes. */
  *handshake(t: number, rtt: number): Generator<DemoPacket, number, void> {
    yield this.segment(t, true, SYN);
    yield this.segment(t + rtt / 2, false, SYN | ACK);
    yield this.segment(t + rtt, true, ACK);
    return t + rtt + 0.05;
  }

  /**
   * `bytes` from one side in full-size segments at `rate` bytes/s, the receiver acknowledging every second
   * segment at once (the capture sits next to it); returns the time of the last segment.
   */
  *stream(t: number, fromClient: boolean, bytes: number, rate: number): Generator<DemoPacket, number, void> {
    const mss = (fromClient ? this.client : this.server).includes(':') ? 1428 : 1448;
    const gap = (mss / rate) * 1000;
    let n = 0;
    for (let left = bytes; left > 0; left -= mss) {
      const len = Math.min(mss, left);
      yield this.segment(t, fromClient, left <= mss ? PSH | ACK : ACK, ZEROS.subarray(0, len));
      if (++n % 2 === 0 || left <= mss) yield this.segment(t + 0.02, !fromClient, ACK);
      t += gap;
    }
    return t;
  }

  /** FIN from `clientFirst`'s side, the peer's FIN, the last ACK. Returns the time of the last ACK. */
  *close(t: number, clientFirst: boolean, rtt: number): Generator<DemoPacket, number, void> {
    yield this.segment(t, clientFirst, FIN | ACK);
    yield this.segment(t + rtt / 2, !clientFirst, FIN | ACK);
    yield this.segment(t + rtt, clientFirst, ACK);
    return t + rtt;
  }
}
