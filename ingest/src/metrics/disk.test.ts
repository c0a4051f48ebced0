import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_HOST_PATHS } from './collector';
import { DiskCollector, parseDiskstats, parseMounts, selectMounts, spaceOf } from './disk';
import { DISK, DISK_FIELDS, Sample, SYS } from './sample';
import { DISKSTATS, fakeHost, MOUNTS } from './test-fixtures';

describe('parseMounts and selectMounts', () => {
  it('decodes octal escapes and keeps real file systems, each device once at its shortest mount point', () => {
    const all = parseMounts(MOUNTS);
    expect(all.find((m) => m.mountPoint.startsWith('/srv'))).toEqual({ device: '/dev/vda', mountPoint: '/srv/my data', fsType: 'ext4' });
    expect(selectMounts(all)).toEqual([{ device: '/dev/vda', mountPoint: '/', fsType: 'ext4' }]);
  });

  it('leaves out pseudo and network file systems, tmpfs and mounts under /dev, /proc, /sys and container storage', () => {
    const text = [
      '/dev/sda1 /boot ext4 rw 0 0',
      'overlay /var/lib/docker/overlay2/abc/merged overlay rw 0 0',
      '/dev/sdb1 /var/lib/docker/volumes/x ext4 rw 0 0',
      'tmpfs /run tmpfs rw 0 0',
      'server:/export /mnt/nfs nfs4 rw 0 0',
      '//server/share /mnt/smb cifs rw 0 0',
      '/dev/nvme0n1p2 /home btrfs rw 0 0',
    ].join('\n');
    expect(selectMounts(parseMounts(text)).map((m) => m.mountPoint)).toEqual(['/boot', '/home']);
  });
});

describe('parseDiskstats', () => {
  it('reads sectors read and written as 512-byte units', () => {
    expect(parseDiskstats(DISKSTATS)).toEqual([
      { name: 'loop0', readBytes: 0, writeBytes: 0 },
      { name: 'vda', readBytes: 2504370 * 512, writeBytes: 6867048 * 512 },
      { name: 'vda1', readBytes: 20480 * 512, writeBytes: 4096 * 512 },
      { name: 'zram0', readBytes: 0, writeBytes: 0 },
    ]);
  });

  it('refuses a device line with a non-numeric counter', () => {
    expect(() => parseDiskstats(' 254 0 vda 1 2 x 4 5 6 7 8 9 10 11\n')).toThrow(/bad counters for vda/);
  });
});

describe('spaceOf', () => {
  it('computes used and percent as df does (reserved blocks are neither used nor available)', () => {
    expect(spaceOf({ blocks: 1000, bfree: 300, bavail: 200, bsize: 4096 })).toEqual({ total: 4096000, used: 2867200, avail: 819200, percent: (100 * 700) / 900 });
  });
});

describe('DiskCollector', () => {
  const host = fakeHost();
  host.write('self/mounts', MOUNTS);
  host.write('diskstats', DISKSTATS);
  for (const d of ['vda', 'loop0', 'zram0']) mkdirSync(path.join(host.paths.sys, 'block', d));

  it('reports the mount with its device I/O, and host I/O from whole physical disks only', () => {
    const s = new Sample();
    new DiskCollector(host.paths, { maxMounts: 8 }).update(s);
    expect(s.mounts.names.slice(0, s.mounts.count)).toEqual(['/']);
    expect([s.mounts.values[DISK.disk_read_bytes], s.mounts.values[DISK.disk_write_bytes]]).toEqual([2504370 * 512, 6867048 * 512]);
    // vda only: vda1 is its partition, loop0 and zram0 are virtual.
    expect([s.sys[SYS.disk_read_bytes], s.sys[SYS.disk_write_bytes]]).toEqual([2504370 * 512, 6867048 * 512]);
  });
});

describe('DiskCollector on this machine', () => {
  it('reports / as df -B1 does', () => {
    const s = new Sample();
    new DiskCollector(DEFAULT_HOST_PATHS, { maxMounts: 32 }).update(s);
    const i = s.mounts.indexOf('/');
    expect(i).toBeGreaterThanOrEqual(0);
    const [size, used] = execFileSync('df', ['-B1', '--output=size,used', '/'], { encoding: 'utf8' }).trim().split('\n')[1].trim().split(/\s+/).map(Number);
    const v = s.mounts.values;
    expect(v[i * DISK_FIELDS + DISK.disk_total]).toBe(size);
    // Other work writes to the same disk between the two reads.
    expect(Math.abs(v[i * DISK_FIELDS + DISK.disk_used] - used)).toBeLessThan(64 * 1024 ** 2);
    expect(s.sys[SYS.disk_total]).toBeGreaterThanOrEqual(size);
  });
});
