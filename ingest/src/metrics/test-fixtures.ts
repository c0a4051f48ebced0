/**
 * For the metrics tests: /proc text copied from a real Debian 12 VM (2 vCPU, virtio disk and NIC), and a fake
 * /proc + /sys tree in a temporary directory that tests rewrite between rounds to simulate counters moving.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const PROC_STAT = `cpu  59926 2883 13904 188910 1295 0 281 251 0 0
cpu0 25708 246 6051 101308 249 0 46 124 0 0
cpu1 34218 2637 7852 87602 1045 0 234 127 0 0
intr 927292 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 15
ctxt 2797089
btime 1796160244
processes 11003
procs_running 2
procs_blocked 0
softirq 563120 1 118315 2 36770 25006 0 1541 212539 0 168946
`;

export const MEMINFO = `MemTotal:       24683568 kB
MemFree:        22968720 kB
MemAvailable:   23573328 kB
Buffers:           10156 kB
Cached:           519008 kB
SwapCached:            0 kB
Active:           374656 kB
Inactive:         793596 kB
HugePages_Total:       0
HugePages_Free:        0
Hugepagesize:       2048 kB
`;

export const LOADAVG = '0.34 0.77 0.56 2/102 10972\n';

export const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:   35924     276    0    0    0     0          0         0    35924     276    0    0    0     0       0          0
  ifb0:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
  eth0: 1101823389   36760    0    0    0     0          0         0  4703408   28944    0    0    0     0       0          0
`;

export const NET_TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 564 1 00000000b161fab3 100 0 0 10 0
   1: 0100007F:C712 0100007F:A33F 06 00000000:00000000 03:000003F2 00000000     0        0 0 3 0000000091a45caa
`;

export const NET_TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:B6A1 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 59270 1 00000000def44010 100 0 0 10 0
   1: 00000000000000000000000001000000:923E 00000000000000000000000001000000:B6A1 01 00000000:00000000 00:00000000 00000000     0        0 59271 2 00000000d33c7f88 20 0 0 10 -1
   2: 00000000000000000000000001000000:B6A1 00000000000000000000000001000000:923E 01 00000000:00000000 00:00000000 00000000     0        0 59272 1 00000000ebcc5d46 20 0 0 10 -1
`;

export const MOUNTS = `proc /proc proc rw,relatime 0 0
sysfs /sys sysfs rw,relatime 0 0
devtmpfs /dev devtmpfs rw,relatime,size=12334096k,nr_inodes=3083524,mode=755 0 0
tmpfs /dev/shm tmpfs rw,relatime,size=24683568k 0 0
/dev/vda / ext4 rw,relatime,discard 0 0
/dev/vda /srv/my\\040data ext4 rw,relatime,discard 0 0
model_tools_unavailable /mnt/sandboxing/model_tools_env/v1/python tmpfs ro,nosuid,nodev,relatime,size=4k,mode=755 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
`;

export const DISKSTATS = `   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 254       0 vda 49443 8718 2504370 26518 38238 197842 6867048 44228 0 12152 73077 22064 74 1001104 2164 4276 166
 254       1 vda1 1200 0 20480 10 30 0 4096 5 0 10 15 0 0 0 0 0 0
 253       0 zram0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
`;

/** A temporary proc/ and sys/ tree; `write('net/dev', text)` writes proc/net/dev. Removed after the test file. */
export function fakeHost(): { paths: { proc: string; sys: string }; write(rel: string, text: string): void; physical(iface: string): void } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'netwatch-metrics-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const paths = { proc: path.join(root, 'proc'), sys: path.join(root, 'sys') };
  mkdirSync(path.join(paths.proc, 'net'), { recursive: true });
  mkdirSync(path.join(paths.proc, 'self'), { recursive: true });
  mkdirSync(path.join(paths.sys, 'block'), { recursive: true });
  mkdirSync(path.join(paths.sys, 'class', 'net'), { recursive: true });
  return {
    paths,
    write: (rel, text) => writeFileSync(path.join(paths.proc, rel), text),
    physical: (iface) => mkdirSync(path.join(paths.sys, 'class', 'net', iface, 'device'), { recursive: true }),
  };
}

/** A /proc/net/dev text with one line per interface: [name, rxBytes, rxPackets, txBytes, txPackets]. */
export function netDev(rows: Array<[string, number | bigint, number | bigint, number | bigint, number | bigint]>): string {
  const head = 'Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n';
  return head + rows.map(([n, rb, rp, tb, tp]) => `${n.padStart(6)}: ${rb} ${rp} 0 0 0 0 0 0 ${tb} ${tp} 0 0 0 0 0 0`).join('\n') + '\n';
}

/** A real SQLite file in a fresh temporary directory, per call; closed and removed after the test file. */
export function tempStorePath(): () => string {
  let dir = '';
  let n = 0;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-metrics-db-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return () => path.join(dir, `${++n}.db`);
}
