/**
 * disk collector: per mount total/used/percent (statfs) and read/write bytes of the mount's block device
 * (/proc/diskstats), and their host-wide totals in the system row.
 */
import { readdirSync, realpathSync, statfsSync } from 'node:fs';
import { readProcText, type Collector, type HostPaths } from './collector';
import { CounterExtender, CounterTotal } from './counters';
import { DISK, SYS, type Sample } from './sample';

export interface MountEntry {
  device: string;
  mountPoint: string;
  fsType: string;
}

/** Undoes the octal escapes of /proc/mounts fields (fstab(5): space is \040, tab \011, backslash \134). */
function unescapeMountField(s: string): string {
  return s.includes('\\') ? s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))) : s;
}

export function parseMounts(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 3) continue;
    out.push({ device: unescapeMountField(f[0]), mountPoint: unescapeMountField(f[1]), fsType: f[2] });
  }
  return out;
}

// Like node_exporter's filesystem collector defaults: pseudo and virtual file systems hold no disk space.
// tmpfs is memory (reported by the memory collector), so it is left out too.
const PSEUDO_FS = new Set([
  'autofs', 'binfmt_misc', 'bpf', 'cgroup', 'cgroup2', 'configfs', 'debugfs', 'devpts', 'devtmpfs', 'efivarfs', 'fusectl',
  'hugetlbfs', 'iso9660', 'mqueue', 'nsfs', 'overlay', 'proc', 'procfs', 'pstore', 'ramfs', 'rpc_pipefs', 'securityfs',
  'selinuxfs', 'squashfs', 'sysfs', 'tracefs', 'tmpfs', 'nfsd', 'fuse.lxcfs', 'fuse.portal', 'fuse.gvfsd-fuse',
]);
// statfs(2) on a network file system whose server is gone blocks, and a synchronous call would block the whole
// service: they are left out (node_exporter needs a watchdog per mount for the same reason).
const NETWORK_FS = /^(nfs4?|cifs|smb3?|ceph|glusterfs|lustre|9p|afs|fuse\.sshfs|fuse\.s3fs|fuse\.rclone|davfs)$/;
const EXCLUDED_MOUNT = /^\/(dev|proc|sys|run\/credentials\/.+|var\/lib\/docker\/.+|var\/lib\/containers\/storage\/.+)($|\/)/;

/** Mounts worth reporting: real file systems, each device once (a bind mount repeats its device; the shortest mount point is kept). */
export function selectMounts(mounts: readonly MountEntry[]): MountEntry[] {
  const byDevice = new Map<string, MountEntry>();
  for (const m of mounts) {
    if (PSEUDO_FS.has(m.fsType) || NETWORK_FS.test(m.fsType) || EXCLUDED_MOUNT.test(m.mountPoint)) continue;
    const key = `${m.device}\u0000${m.fsType}`;
    const seen = byDevice.get(key);
    if (!seen || m.mountPoint.length < seen.mountPoint.length) byDevice.set(key, m);
  }
  return [...byDevice.values()];
}

export interface DiskIo {
  name: string;
  readBytes: number;
  writeBytes: number;
}

/**
 * /proc/diskstats (Documentation/admin-guide/iostats.rst): major minor name, then reads completed, merged,
 * sectors read, ms reading, writes completed, merged, sectors written, ... Sectors are always 512 bytes here,
 * whatever the device's sector size.
 */
export function parseDiskstats(text: string): DiskIo[] {
  const out: DiskIo[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const read = Number(f[5]);
    const written = Number(f[9]);
    if (!Number.isFinite(read) || !Number.isFinite(written)) throw new Error(`/proc/diskstats: bad counters for ${f[2]}`);
    out.push({ name: f[2], readBytes: read * 512, writeBytes: written * 512 });
  }
  return out;
}

/** Space of a mounted file system as df(1) reports it: used excludes free blocks, percent is of what users can have. */
export function spaceOf(s: { blocks: number; bfree: number; bavail: number; bsize: number }): { total: number; used: number; avail: number; percent: number } {
  const total = s.blocks * s.bsize;
  const used = (s.blocks - s.bfree) * s.bsize;
  const avail = s.bavail * s.bsize;
  return { total, used, avail, percent: used + avail > 0 ? (100 * used) / (used + avail) : 0 };
}

// Layered devices (device mapper, software RAID) and memory disks would count their underlying disks' I/O again.
const VIRTUAL_BLOCK = /^(dm-|md|loop|ram|zram|nbd|sr)/;

export interface DiskCollectorOptions {
  maxMounts: number;
}

export class DiskCollector implements Collector {
  readonly name = 'disk';
  private readonly ioExtender: CounterExtender;
  private readonly ioTotal = new CounterTotal(2);
  private readonly ioDeltas = new Float64Array(2);
  private readonly ioInitial = new Float64Array(2);
  private readonly io = new Float64Array(2);
  private readonly deviceNames = new Map<string, string>();
  /** Mounts whose statfs failed in the last round (an unreachable network file system, a vanished mount). */
  statfsFailures = 0;

  constructor(
    private readonly paths: HostPaths,
    opts: DiskCollectorOptions,
  ) {
    this.ioExtender = new CounterExtender(2, 4 * opts.maxMounts + 64);
  }

  update(sample: Sample): void {
    const mounts = selectMounts(parseMounts(readProcText(`${this.paths.proc}/self/mounts`)));
    const stats = parseDiskstats(readProcText(`${this.paths.proc}/diskstats`));
    let wholeDisks: Set<string>;
    try {
      wholeDisks = new Set(readdirSync(`${this.paths.sys}/block`));
    } catch {
      wholeDisks = new Set();
    }

    // Every device's counters extended (partitions too: a mount's device may be one); only whole physical disks
    // go into the host total, as a partition's I/O is already its disk's.
    const ioByName = new Map<string, [number, number]>();
    this.ioDeltas.fill(0);
    this.ioInitial.fill(0);
    for (const d of stats) {
      this.io[0] = d.readBytes;
      this.io[1] = d.writeBytes;
      const counted = wholeDisks.has(d.name) && !VIRTUAL_BLOCK.test(d.name);
      if (counted) {
        this.ioInitial[0] += d.readBytes;
        this.ioInitial[1] += d.writeBytes;
      }
      this.ioExtender.extend(d.name, this.io, 0, counted ? this.ioDeltas : undefined);
      ioByName.set(d.name, [this.io[0], this.io[1]]);
    }
    this.ioExtender.sweep();
    this.ioTotal.add(this.ioInitial, this.ioDeltas);

    let total = 0;
    let used = 0;
    let avail = 0;
    this.statfsFailures = 0;
    const ms = sample.mounts;
    for (const m of mounts) {
      let space;
      try {
        space = spaceOf(statfsSync(m.mountPoint));
      } catch {
        this.statfsFailures++;
        continue;
      }
      total += space.total;
      used += space.used;
      avail += space.avail;
      const base = ms.add(m.mountPoint);
      if (base < 0) continue;
      ms.values[base + DISK.disk_total] = space.total;
      ms.values[base + DISK.disk_used] = space.used;
      ms.values[base + DISK.disk_percent] = space.percent;
      const io = ioByName.get(this.deviceName(m.device));
      if (io) {
        ms.values[base + DISK.disk_read_bytes] = io[0];
        ms.values[base + DISK.disk_write_bytes] = io[1];
      }
    }
    if (this.deviceNames.size > 1024) this.deviceNames.clear();
    sample.sys[SYS.disk_total] = total;
    sample.sys[SYS.disk_used] = used;
    sample.sys[SYS.disk_percent] = used + avail > 0 ? (100 * used) / (used + avail) : 0;
    sample.sys[SYS.disk_read_bytes] = this.ioTotal.values[0];
    sample.sys[SYS.disk_write_bytes] = this.ioTotal.values[1];
  }

  /** The diskstats name of a mount's device: /dev/vda1 -> vda1, /dev/mapper/vg-root -> dm-0 (through its link). */
  private deviceName(device: string): string {
    let name = this.deviceNames.get(device);
    if (name === undefined) {
      let real = device;
      if (device.startsWith('/dev/')) {
        try {
          real = realpathSync(device);
        } catch {
          // Not resolvable (the device node is not visible, as in a container): its own name may still match.
        }
      }
      name = real.slice(real.lastIndexOf('/') + 1);
      this.deviceNames.set(device, name);
    }
    return name;
  }
}
