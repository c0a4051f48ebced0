/** One AF_PACKET socket of this process, with its kernel counters summed since this module first read it. */
export interface PacketSocketStats {
  /** The lowest fd under which the socket was found in this read. */
  fd: number;
  /** The socket's inode: its identity for as long as it is open (fd numbers are reused). */
  inode: number;
  /** From getsockname's sockaddr_ll; 0 for a socket bound to no interface (libpcap's `any`). */
  ifindex: number;
  /** if_indextoname(ifindex), `any` for ifindex 0, null when the interface is gone. */
  interface: string | null;
  /** The ring version (1, 2 or 3), null when PACKET_VERSION could not be read. */
  tpacketVersion: number | null;
  /** Packets that passed the socket's filter, dropped ones included (tp_packets). */
  packets: number;
  /** Packets the kernel dropped because the ring was full (tp_drops). */
  drops: number;
  /** Times a TPACKET_V3 ring ran out of blocks (tp_freeze_q_cnt); null for V1/V2 rings, which have no such counter. */
  freezes: number | null;
  /** strerror of the last failed PACKET_STATISTICS read, else null. */
  error: string | null;
}

/**
 * Reads every packet socket of the process once and returns the running totals. Idempotent: calling it again
 * returns the same or larger numbers, whoever else calls it, because the kernel's reset-on-read counters are
 * only ever added to one table.
 */
export function read(): PacketSocketStats[];

/** The size bound of that table and how many sockets the last read left unread because it was full. */
export function limits(): { maxSockets: number; tracked: number; skipped: number };
