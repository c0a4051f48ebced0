/*
 * Kernel counters of this process's AF_PACKET sockets, read with getsockopt(SOL_PACKET, PACKET_STATISTICS).
 *
 * Why this exists: the `cap` binding opens its libpcap handles without ever calling pcap_stats(), and on
 * Linux the only place where the kernel records packets it could not put into a capture ring is the packet
 * socket itself (struct tpacket_stats for TPACKET_V1/V2 rings, tpacket_stats_v3 for V3; the socket's skmem
 * drop counter stays 0 for ring drops). We find the sockets by walking /proc/self/fd, which needs nothing
 * from libpcap or from `cap`.
 *
 * Why totals and not deltas: the kernel zeroes the counters on every PACKET_STATISTICS read
 * (net/packet/af_packet.c, packet_getsockopt). If two callers each read "what changed since last time",
 * each would steal the other's packets. So every read goes through one table, keyed by the socket's inode
 * (stable for the socket's life, unlike an fd number, which is reused and may be dup()ed), that adds each
 * read to a running total. What read() returns is idempotent: the totals since this module first saw the
 * socket, which only grow. A caller takes differences of totals and can never count a packet twice.
 * libpcap does the same inside pcap_stats(), which `cap` never calls, so no one else resets them.
 *
 * Semantics of the kernel counters (af_packet.c, and libpcap's pcap_stats_linux() notes): `packets` counts
 * every packet that passed the socket's BPF filter, including the ones dropped (the kernel adds tp_drops to
 * tp_packets when it answers); `drops` counts those that found no free slot in the ring; `freezes` (V3 only)
 * counts the times the ring ran out of blocks. On `lo` the kernel hands the socket both the outgoing and the
 * incoming copy of each packet (libpcap discards the outgoing one), so `packets` is about twice what was
 * captured there.
 *
 * Bounded: at most MAX_SOCKETS sockets are tracked. A socket beyond that is not read at all (so its counters
 * keep accumulating in the kernel and nothing is lost), and is counted in `skipped`. Entries of closed
 * sockets are removed on the next read; their last counts since the previous read are lost, so whoever
 * closes a capture should read once right before.
 */
#define _GNU_SOURCE
#include <node_api.h>

#include <dirent.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SOCKETS 256

typedef struct {
  ino_t inode;
  int fd;
  int ifindex;
  int version; /* 1, 2 or 3 (TPACKET_V1..V3); 0 when PACKET_VERSION could not be read */
  int error;   /* errno of the last failed PACKET_STATISTICS read, else 0 */
  uint64_t packets;
  uint64_t drops;
  uint64_t freezes;
  int seen;
} tracked_socket;

/* Shared by every Node environment (worker threads) that loads the addon: the counters belong to the
 * process's sockets, not to an environment. */
static tracked_socket tracked[MAX_SOCKETS];
static size_t tracked_count;
static uint64_t skipped_last;
static pthread_mutex_t tracked_lock = PTHREAD_MUTEX_INITIALIZER;

static tracked_socket *find_tracked(ino_t inode) {
  for (size_t i = 0; i < tracked_count; i++)
    if (tracked[i].inode == inode) return &tracked[i];
  return NULL;
}

static void read_socket(tracked_socket *t, int fd) {
  union {
    struct tpacket_stats v2;
    struct tpacket_stats_v3 v3;
  } st;
  socklen_t len = sizeof(st.v3);
  memset(&st, 0, sizeof(st));
  /* The kernel answers with the struct of the socket's ring version and shortens len to its size. */
  if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) != 0) {
    t->error = errno;
    return;
  }
  t->error = 0;
  t->packets += st.v2.tp_packets;
  t->drops += st.v2.tp_drops;
  if (len >= sizeof(st.v3)) t->freezes += st.v3.tp_freeze_q_cnt;
  if (t->version == 0) {
    int v = -1;
    socklen_t vlen = sizeof(v);
    if (getsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, &vlen) == 0 && v >= TPACKET_V1 && v <= TPACKET_V3) t->version = v - TPACKET_V1 + 1;
  }
}

/* Walks /proc/self/fd, reads every packet socket once, drops entries of sockets that are gone. Returns 0, or
 * an errno when the directory cannot be listed. Called with tracked_lock held. */
static int refresh(void) {
  DIR *dir = opendir("/proc/self/fd");
  if (!dir) return errno;
  int self = dirfd(dir);
  for (size_t i = 0; i < tracked_count; i++) tracked[i].seen = 0;
  skipped_last = 0;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL) {
    char *end;
    long n = strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || n < 0 || n == self) continue;
    int fd = (int)n;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISSOCK(sb.st_mode)) continue;
    struct sockaddr_ll sll;
    socklen_t alen = sizeof(sll);
    memset(&sll, 0, sizeof(sll));
    if (getsockname(fd, (struct sockaddr *)&sll, &alen) != 0 || sll.sll_family != AF_PACKET) continue;
    tracked_socket *t = find_tracked(sb.st_ino);
    if (t && t->seen) continue; /* the same socket under a dup()ed fd: read it once */
    if (!t) {
      if (tracked_count == MAX_SOCKETS) {
        skipped_last++;
        continue;
      }
      t = &tracked[tracked_count++];
      memset(t, 0, sizeof(*t));
      t->inode = sb.st_ino;
    }
    t->fd = fd;
    t->ifindex = sll.sll_ifindex;
    t->seen = 1;
    read_socket(t, fd);
  }
  closedir(dir);
  size_t kept = 0;
  for (size_t i = 0; i < tracked_count; i++)
    if (tracked[i].seen) tracked[kept++] = tracked[i];
  tracked_count = kept;
  return 0;
}

#define CHECK(call)                                      \
  do {                                                   \
    if ((call) != napi_ok) {                             \
      napi_throw_error(env, NULL, "N-API call failed: " #call); \
      return NULL;                                       \
    }                                                    \
  } while (0)

static napi_value set_number(napi_env env, napi_value obj, const char *key, double v) {
  napi_value n;
  if (napi_create_double(env, v, &n) != napi_ok || napi_set_named_property(env, obj, key, n) != napi_ok) return NULL;
  return obj;
}

static napi_value Read(napi_env env, napi_callback_info info) {
  (void)info;
  /* The JS objects are built from a copy, so the lock is never held across N-API calls. */
  tracked_socket copy[MAX_SOCKETS];
  pthread_mutex_lock(&tracked_lock);
  int err = refresh();
  size_t count = tracked_count;
  memcpy(copy, tracked, count * sizeof(tracked_socket));
  pthread_mutex_unlock(&tracked_lock);
  if (err != 0) {
    char msg[160];
    snprintf(msg, sizeof(msg), "cannot list /proc/self/fd: %s", strerror(err));
    napi_throw_error(env, "NETWATCH_PACKET_STATS_PROC", msg);
    return NULL;
  }

  napi_value result = NULL, nul;
  if (napi_create_array_with_length(env, count, &result) != napi_ok || napi_get_null(env, &nul) != napi_ok) goto fail;
  for (size_t i = 0; i < count; i++) {
    const tracked_socket *t = &copy[i];
    napi_value o, name;
    if (napi_create_object(env, &o) != napi_ok) goto fail;
    if (!set_number(env, o, "fd", t->fd) || !set_number(env, o, "inode", (double)t->inode) || !set_number(env, o, "ifindex", t->ifindex)) goto fail;
    /* An unbound packet socket (libpcap's `any` device) reports ifindex 0. if_indextoname() opens a
     * short-lived AF_INET or AF_UNIX socket, so it runs outside the walk of /proc/self/fd. */
    char ifname[IF_NAMESIZE];
    if (t->ifindex == 0) {
      if (napi_create_string_utf8(env, "any", NAPI_AUTO_LENGTH, &name) != napi_ok) goto fail;
    } else if (if_indextoname((unsigned)t->ifindex, ifname) != NULL) {
      if (napi_create_string_utf8(env, ifname, NAPI_AUTO_LENGTH, &name) != napi_ok) goto fail;
    } else {
      name = nul;
    }
    if (napi_set_named_property(env, o, "interface", name) != napi_ok) goto fail;
    if (t->version > 0) {
      if (!set_number(env, o, "tpacketVersion", t->version)) goto fail;
    } else if (napi_set_named_property(env, o, "tpacketVersion", nul) != napi_ok) {
      goto fail;
    }
    if (!set_number(env, o, "packets", (double)t->packets) || !set_number(env, o, "drops", (double)t->drops)) goto fail;
    /* tp_freeze_q_cnt exists only in the V3 struct. */
    if (t->version == 3) {
      if (!set_number(env, o, "freezes", (double)t->freezes)) goto fail;
    } else if (napi_set_named_property(env, o, "freezes", nul) != napi_ok) {
      goto fail;
    }
    if (t->error != 0) {
      napi_value msg;
      if (napi_create_string_utf8(env, strerror(t->error), NAPI_AUTO_LENGTH, &msg) != napi_ok || napi_set_named_property(env, o, "error", msg) != napi_ok) goto fail;
    } else if (napi_set_named_property(env, o, "error", nul) != napi_ok) {
      goto fail;
    }
    if (napi_set_element(env, result, (uint32_t)i, o) != napi_ok) goto fail;
  }
  return result;
fail:
  {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, NULL, "packet-stats: cannot build the result");
  }
  return NULL;
}

static napi_value Limits(napi_env env, napi_callback_info info) {
  (void)info;
  pthread_mutex_lock(&tracked_lock);
  double skipped = (double)skipped_last, count = (double)tracked_count;
  pthread_mutex_unlock(&tracked_lock);
  napi_value o;
  CHECK(napi_create_object(env, &o));
  if (!set_number(env, o, "maxSockets", MAX_SOCKETS) || !set_number(env, o, "tracked", count) || !set_number(env, o, "skipped", skipped)) {
    napi_throw_error(env, NULL, "packet-stats: cannot build the result");
    return NULL;
  }
  return o;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "read", NAPI_AUTO_LENGTH, Read, NULL, &fn) != napi_ok || napi_set_named_property(env, exports, "read", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "limits", NAPI_AUTO_LENGTH, Limits, NULL, &fn) != napi_ok || napi_set_named_property(env, exports, "limits", fn) != napi_ok) return NULL;
  return exports;
}
