// SPDX-License-Identifier: GPL-2.0
/*
 * CKPT_IOC_RESTART against hostile images.
 *
 * Restart parses an image that anyone able to open /dev/ckpt can write, so
 * every byte of it is attacker controlled. The test checkpoints itself with a
 * handful of supported files on a tmpfs it mounts, then feeds well over
 * 10 000 mutations of that seed image back to CKPT_IOC_RESTART, from a file
 * or through a pipe, and requires of every attempt that it is either
 *   - refused: -1 with an errno from the documented set (ACCEPTED below), the
 *     reason Documentation/restart.rst pairs with that errno, err_fd and
 *     err_record naming the fd and file at fault, and the caller's fd table
 *     exactly as before (each fd the same file, F_GETFL and F_GETFD), or
 *   - restored: exactly the fds the image's file table names (external ones
 *     excepted) are new in the caller, each the file its record names (device
 *     and inode, or rdev), with its f_flags, close-on-exec and position, fds
 *     of one record sharing one open file (kcmp), nothing else changed,
 * and, where the mutation's outcome is specified (Documentation/restart.rst,
 * /work/restart-spec.md), that it is that outcome: a bad checksum or a
 * truncated image is EBADMSG, a file table fd beyond RLIMIT_NOFILE is EMFILE,
 * unknown flags, non-canonical paths and non-allowlisted char devices are
 * EBADMSG before anything is opened, unknown optional records are skipped...
 * At the end of each test, the whole fd table as /proc shows it is the
 * one before the first attempt. Where any outcome is acceptable, some
 * attempts pass CKPT_RESTART_IGNORE_CONTENT and ACCEPT_ADVISORY;
 * flags_and_arguments covers unknown flags, short and long structs, the
 * image fd, and ACCEPT_ADVISORY against a crafted advisory mismatch.
 *
 * Mutations come from a deterministic PRNG. Its seed is printed and can be
 * changed with CKPT_HOSTILE_SEED=<n>; CKPT_HOSTILE_PCT=<n> scales the number
 * of random attempts (default 100). Every violation names the seed, the
 * test, the iteration, the flags and the mutation, which is enough to replay
 * it. Each test keeps its state in its fixture and depends on no other.
 *
 * Cost: under QEMU/TCG with KASAN an attempt is 20-100 ms of kernel time
 * (decoding, the environment check, reopening files), so the test keeps
 * everything else cheap: a chroot into its tmpfs (no path walk through the
 * guest's 9p root), images batched in one file, one poll() to see the fd
 * table, and the random loops split over two processes (the guest has two
 * CPUs). Each test prints its images, outcomes and where the time went.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/ckpt.h>
#include <linux/kcmp.h>

#include "kselftest_harness.h"
#include "ckpt_selftest.h"

/*
 * RLIMIT_NOFILE is lowered to NOFILE: it makes "beyond RLIMIT_NOFILE" cheap
 * to reach, and it bounds every fd the caller can hold, so one poll() over
 * 0..NOFILE-1 sees the whole fd table after each attempt.
 */
#define NOFILE		64
#define FD_BASE		20	/* the seed's files are at 20..25 */
#define NR_SEED_FDS	6

#define HDR_LEN		304
#define RHDR_LEN	16
#define TERM_LEN	36
#define RECORD_MAX_LEN	(1U << 24)
#define MAXREC		64
#define POOL_SIZE	(1U << 20)
#define OUT_SIZE	(2U << 20)

#define T_TERM		0x0001
#define T_ENV		0x0002
#define T_TASKVEC	0x0003
#define T_TASK		0x0010
#define T_TABLE		0x0020
#define T_FILE		0x0021

/*
 * Record types no reader knows (Documentation/image-format.rst leaves them
 * unassigned), for the unknown-record tests; UNKNOWN_TYPE is one of them. The
 * host test tools/ckpt-image/tests/selftest_lists.rs checks this list against
 * the codec's RecordType::KNOWN, so assigning one of these types fails it
 * until the type is replaced here.
 */
static const uint16_t unassigned_types[] = {
	0x7f00, 0x0004, 0x000f, 0x0014, 0x001f, 0x0022, 0x0040, 0x8000, 0xabcd, 0xffff,
};
#define NR_UNASSIGNED	(int)(sizeof(unassigned_types) / sizeof(unassigned_types[0]))
#define UNKNOWN_TYPE	unassigned_types[0]

#define K_REGULAR	1
#define K_EXT		2
#define K_DIR		3
#define K_CHR		4
#define K_EXTERNAL	5
#define K_EXTDIR	6

/* FILE payload offsets (Documentation/image-format.rst) */
#define F_KIND		0
#define F_RES		2
#define F_FLAGS		4
#define F_FMODE		8
#define F_MODE		12
#define F_POS		16
#define F_DEV		24
#define F_INO		32
#define F_SIZE		40
#define F_MTIME		48
#define F_MTIME_NS	56
#define F_CTIME		60
#define F_CTIME_NS	68
#define F_PATH		72

/*
 * The f_flags restart accepts (spec section 2); any other bit must be EBADMSG.
 * glibc defines O_LARGEFILE as 0 on 64-bit: the kernel's f_flags carry 0100000.
 */
#define KERNEL_O_LARGEFILE	0100000
#define KNOWN_F_FLAGS	(O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | O_DIRECT | \
			 KERNEL_O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC)

#define DEFAULT_SEED	0x636b7074686f7374ULL	/* "ckpthost" */

/* The seed: configuration, read once (CKPT_HOSTILE_SEED); the stream is each test's own. */
static uint64_t seed = DEFAULT_SEED;

/* The errnos restart documents for a refused image: anything else is a bug. */
static const int accepted[] = {
	EBADMSG, ENOEXEC, ENOENT, ESTALE, EACCES, EBUSY, EBADF, EMFILE, EFBIG,
	EOPNOTSUPP, EINVAL, ENOTDIR, EISDIR, ELOOP, ENAMETOOLONG, EXDEV, EPERM,
};

#define ANY		(-1)	/* expectation: refused with an accepted errno, or restored */
#define REFUSED		(-2)	/* expectation: refused with an accepted errno */
#define CORRUPT		(-3)	/* expectation: EBADMSG, or ENOEXEC if the version changed */

enum via { VIA_FILE, VIA_PIPE, VIA_FORK };
static const char *const via_name[] = { "file", "pipe", "forked pipe" };

/* ---- little-endian fields and CRC-32C: ckpt_selftest.h ---- */

#define get16 ckpt_get16
#define get32 ckpt_get32
#define get64 ckpt_get64
#define put16 ckpt_put16
#define put32 ckpt_put32
#define put64 ckpt_put64
#define crc32c ckpt_crc32c

/* Recomputes the checksum of an image that ends with its terminator. */
static void reseal(uint8_t *img, size_t len)
{
	if (len >= HDR_LEN + TERM_LEN)
		put32(img + len - 4, crc32c(img, len - 4));
}

/* ---- an image as records, for mutations that change the structure ---- */

struct rec {
	uint16_t type, flags;
	uint64_t id;
	uint32_t plen;
	uint32_t off;		/* of the payload in the pool */
};

struct img {
	uint8_t hdr[HDR_LEN];
	int n;			/* records, terminator excluded */
	struct rec r[MAXREC];
	uint32_t used;
	uint8_t pool[POOL_SIZE];
};

static uint8_t *pl(struct img *m, int i)
{
	return m->pool + m->r[i].off;
}

static void img_copy(struct img *d, const struct img *s)
{
	memcpy(d->hdr, s->hdr, HDR_LEN);
	d->n = s->n;
	memcpy(d->r, s->r, sizeof(s->r[0]) * s->n);
	d->used = s->used;
	memcpy(d->pool, s->pool, s->used);
}

/* Gives record @i a new payload (appended to the pool: old ones stay put). */
static int set_payload(struct img *m, int i, const uint8_t *p, uint32_t len)
{
	if (len > POOL_SIZE - m->used)
		return -1;
	memmove(m->pool + m->used, p, len);
	m->r[i].off = m->used;
	m->r[i].plen = len;
	m->used += len;
	return 0;
}

static int insert_rec(struct img *m, int at, uint16_t type, uint16_t flags, uint64_t id,
		      const uint8_t *p, uint32_t len)
{
	if (m->n == MAXREC)
		return -1;
	memmove(&m->r[at + 1], &m->r[at], sizeof(m->r[0]) * (m->n - at));
	m->n++;
	m->r[at].type = type;
	m->r[at].flags = flags;
	m->r[at].id = id;
	if (set_payload(m, at, p, len))
		return -1;
	return 0;
}

static void remove_rec(struct img *m, int at)
{
	memmove(&m->r[at], &m->r[at + 1], sizeof(m->r[0]) * (m->n - at - 1));
	m->n--;
}

static int find_type(const struct img *m, uint16_t type, int nth)
{
	int i;

	for (i = 0; i < m->n; i++)
		if (m->r[i].type == type && !nth--)
			return i;
	return -1;
}

static int find_id(const struct img *m, uint64_t id)
{
	int i;

	for (i = 0; i < m->n; i++)
		if (m->r[i].id == id)
			return i;
	return -1;
}

/* Table entry index of @fd, or -1. */
static int entry_of_fd(struct img *m, int fd)
{
	int t = find_type(m, T_TABLE, 0);
	uint32_t k, n;

	if (t < 0)
		return -1;
	n = get32(pl(m, t));
	for (k = 0; k < n && 8 + 16 * (k + 1) <= m->r[t].plen; k++)
		if (get32(pl(m, t) + 8 + 16 * k) == (uint32_t)fd)
			return k;
	return -1;
}

static uint8_t *entry(struct img *m, int k)
{
	return pl(m, find_type(m, T_TABLE, 0)) + 8 + 16 * k;
}

/* The FILE record at @fd in the seed's table. */
static int file_of_fd(struct img *m, int fd)
{
	int k = entry_of_fd(m, fd);

	return k < 0 ? -1 : find_id(m, get64(entry(m, k) + 8));
}

/* Multiplies every id by 16 (and every reference), so new records fit between any two. */
static void spread_ids(struct img *m)
{
	uint32_t k, n;
	uint8_t *p;
	int i;

	for (i = 0; i < m->n; i++) {
		m->r[i].id *= 16;
		p = pl(m, i);
		switch (m->r[i].type) {
		case T_TABLE:
			n = get32(p);
			for (k = 0; k < n; k++)
				put64(p + 8 + 16 * k + 8, get64(p + 8 + 16 * k + 8) * 16);
			break;
		case T_TASK:
			put64(p + 64, get64(p + 64) * 16);
			break;
		case T_TASKVEC:
			put64(p, get64(p) * 16);
			break;
		}
	}
}

/* Encodes @m with a correct terminator; returns the length, 0 if it does not fit. */
static size_t serialize(const struct img *m, uint8_t *out, size_t cap)
{
	size_t o = HDR_LEN;
	int i;

	memcpy(out, m->hdr, HDR_LEN);
	for (i = 0; i < m->n; i++) {
		if (o + RHDR_LEN + m->r[i].plen + TERM_LEN > cap)
			return 0;
		put16(out + o, m->r[i].type);
		put16(out + o + 2, m->r[i].flags);
		put32(out + o + 4, RHDR_LEN + m->r[i].plen);
		put64(out + o + 8, m->r[i].id);
		memcpy(out + o + RHDR_LEN, m->pool + m->r[i].off, m->r[i].plen);
		o += RHDR_LEN + m->r[i].plen;
	}
	put16(out + o, T_TERM);
	put16(out + o + 2, 1);
	put32(out + o + 4, TERM_LEN);
	put64(out + o + 8, 0);
	put64(out + o + 16, m->n);
	put64(out + o + 24, o);
	o += TERM_LEN;
	reseal(out, o);
	return o;
}

/*
 * Splits an image into records. Strict: the terminator must end @len. Lenient
 * (what restart accepted): whatever follows the terminator is ignored, and the
 * payloads of unknown records are not kept (one may be larger than the pool).
 */
static int parse_img(const uint8_t *b, size_t len, struct img *m, bool lenient, size_t *end)
{
	size_t o = HDR_LEN;
	uint32_t rlen, keep;

	if (len < HDR_LEN)
		return -1;
	memcpy(m->hdr, b, HDR_LEN);
	m->n = 0;
	m->used = 0;
	while (o + RHDR_LEN <= len) {
		rlen = get32(b + o + 4);
		if (rlen < RHDR_LEN || o + rlen > len)
			return -1;
		if (get16(b + o) == T_TERM) {
			if (end)
				*end = o + rlen;
			return o + rlen == len || lenient ? 0 : -1;
		}
		if (m->n == MAXREC)
			return -1;
		m->r[m->n].type = get16(b + o);
		m->r[m->n].flags = get16(b + o + 2);
		m->r[m->n].id = get64(b + o + 8);
		keep = rlen - RHDR_LEN;
		if (lenient && m->r[m->n].type != T_TABLE && m->r[m->n].type != T_FILE)
			keep = 0;
		if (set_payload(m, m->n, b + o + RHDR_LEN, keep))
			return -1;
		m->n++;
		o += rlen;
	}
	return -1;
}

/* ---- the state of one test: the fixture (each TEST_F runs in its own process) ---- */

struct outcome {
	int rc, err;
	struct ckpt_restart a;
	char log[512];
};

struct batch;

FIXTURE(hostile) {
	int dev, img_fd, tmp_fd;
	char dir[64], tmp_name[64];
	char data[96], other[96], sub[96];
	struct img *seed, *w, *scratch;
	uint8_t *seed_bytes, *out;
	size_t seed_len;
	/* the caller's fd table before any attempt */
	bool base[NOFILE];
	struct { dev_t dev, rdev; ino_t ino; int fl, fdfl; } id[NOFILE];
	struct ckpt_fdsnap before;	/* the whole table, /proc's view, at setup */
	bool kcmp_works;
	struct stat data_st;
	/* bookkeeping */
	const char *test;
	int iter, attempts, violations, restored, deep_every;
	bool in_split;		/* iterations numbered by split(g, ), not by try_w(g) */
	int hist[160];
	double t_feed, t_ioctl, t_check;	/* seconds, for tuning */
	char desc[512];
	struct timespec t0;
	uint64_t rng;		/* the PRNG's state */
	struct batch *q;	/* file attempts not yet fed */
	/* images fed and judged by this test, its worker's included (shared memory) */
	long *images;
};

typedef FIXTURE_DATA(hostile) hostile_t;

/* ---- deterministic PRNG (xorshift64*), its state in the fixture ---- */


static uint64_t rnd(hostile_t *g)
{
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 0x2545F4914F6CDD1DULL;
}

static uint32_t below(hostile_t *g, uint32_t n)
{
	return n ? (uint32_t)(rnd(g) % n) : 0;
}

/* Every iteration of every loop has its own stream: (seed, test, iteration) replays it. */
static void rng_for(hostile_t *g, uint64_t salt, uint64_t iter)
{
	g->rng = seed ^ (salt * 0x9E3779B97F4A7C15ULL) ^ (iter * 0xD1B54A32D192ED03ULL);
	if (!g->rng)
		g->rng = 1;
	for (int i = 0; i < 4; i++)
		rnd(g);
}


static void __attribute__((constructor)) hostile_init(void)
{
	const char *s = getenv("CKPT_HOSTILE_SEED");

	if (s && *s)
		seed = strtoull(s, NULL, 0);
}

static int scaled(int n)
{
	const char *s = getenv("CKPT_HOSTILE_PCT");
	long pct = s && *s ? strtol(s, NULL, 0) : 100;

	return n * pct / 100 > 0 ? (int)(n * pct / 100) : 1;
}

static void describe(hostile_t *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void describe(hostile_t *g, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g->desc, sizeof(g->desc), fmt, ap);
	va_end(ap);
}

static void violation(hostile_t *g, const struct outcome *o, enum via via, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void violation(hostile_t *g, const struct outcome *o, enum via via, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	g->violations++;
	if (g->violations > 30)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	ksft_print_msg("VIOLATION (seed %#llx, test %s, iteration %d, via %s, flags %#llx, mutation: %s): %s; "
		       "restart rc %d errno %d (%s) reason %u err_fd %d err_record %llu nr_fds %u "
		       "nr_external %u bytes %llu log \"%s\"\n",
		       (unsigned long long)seed, g->test, g->iter, via_name[via],
		       (unsigned long long)o->a.flags, g->desc, what,
		       o->rc, o->err, strerror(o->err), o->a.reason, o->a.err_fd,
		       (unsigned long long)o->a.err_record, o->a.nr_fds, o->a.nr_external,
		       (unsigned long long)o->a.bytes, o->log);
}

/* ---- the caller's fd table ---- */

static void fds_now(bool *open)
{
	struct pollfd p[NOFILE];
	int i;

	/* one syscall for the whole table: a closed fd polls POLLNVAL */
	for (i = 0; i < NOFILE; i++) {
		p[i].fd = i;
		p[i].events = 0;
		p[i].revents = 0;
	}
	poll(p, NOFILE, 0);
	for (i = 0; i < NOFILE; i++)
		open[i] = !(p[i].revents & POLLNVAL);
}

static void take_baseline(hostile_t *g)
{
	struct stat st;
	int fd;

	if (ckpt_fd_snapshot(&g->before))
		ksft_print_msg("%s: cannot snapshot the fd table\n", g->test);
	fds_now(g->base);
	for (fd = 0; fd < NOFILE; fd++) {
		if (!g->base[fd])
			continue;
		fstat(fd, &st);
		g->id[fd].dev = st.st_dev;
		g->id[fd].rdev = st.st_rdev;
		g->id[fd].ino = st.st_ino;
		g->id[fd].fl = fcntl(fd, F_GETFL);
		g->id[fd].fdfl = fcntl(fd, F_GETFD);
	}
}

/*
 * The expensive check, every few attempts and after every restore: no fd at
 * all outside the baseline (/proc/self/fd lists fds beyond NOFILE too), and
 * each baseline fd still the same open file with the same flags.
 */
static void deep_check(hostile_t *g, const struct outcome *o, enum via via)
{
	struct dirent *d;
	struct stat st;
	DIR *dp;
	int fd;

	dp = opendir("/proc/self/fd");
	if (!dp) {
		violation(g, o, via, "opendir /proc/self/fd: %s", strerror(errno));
		return;
	}
	while ((d = readdir(dp))) {
		if (d->d_name[0] == '.')
			continue;
		fd = atoi(d->d_name);
		if (fd == dirfd(dp))
			continue;
		if (fd >= NOFILE || !g->base[fd]) {
			violation(g, o, via, "fd %d is open after the attempt (leaked)", fd);
			close(fd);
		}
	}
	closedir(dp);
	for (fd = 0; fd < NOFILE; fd++) {
		if (!g->base[fd])
			continue;
		if (fstat(fd, &st) || st.st_dev != g->id[fd].dev || st.st_ino != g->id[fd].ino ||
		    fcntl(fd, F_GETFL) != g->id[fd].fl || fcntl(fd, F_GETFD) != g->id[fd].fdfl)
			violation(g, o, via, "the caller's fd %d changed", fd);
	}
}

/*
 * At the end of a test: the whole fd table, as /proc shows it, against the
 * snapshot taken before the first attempt: the same fds, files, positions
 * (the image file's excepted: restart reads it) and flags.
 */
static void final_fd_check(hostile_t *g)
{
	static struct ckpt_fdsnap after;
	struct outcome o = { 0 };
	char msg[1024];

	if (ckpt_fd_snapshot(&after)) {
		violation(g, &o, VIA_FILE, "cannot snapshot the fd table at the end");
		return;
	}
	if (ckpt_fd_snap_diff_but(&g->before, &after, g->img_fd, msg, sizeof(msg)))
		violation(g, &o, VIA_FILE, "at the end, the fd table differs from before: %s", msg);
}

/* ---- what a restored image must have installed ---- */

struct want {
	int n;
	size_t end;		/* where the terminator ends */
	int fd[NOFILE];
	int kind[NOFILE];
	int64_t pos[NOFILE];
	bool external[NOFILE];
	bool cloexec[NOFILE];
	uint64_t file[NOFILE];	/* the FILE record's id */
	uint32_t f_flags[NOFILE];
	uint64_t dev[NOFILE], ino[NOFILE], rdev[NOFILE];
};

/* Reads the file table of an image restart accepted; -1 if the test cannot. */
static int table_of(hostile_t *g, const uint8_t *b, size_t len, struct want *w)
{
	struct img *m = g->scratch;
	int t, i, f;
	uint32_t k, n;
	uint8_t *e, *p;

	if (parse_img(b, len, m, true, &w->end))
		return -1;
	t = find_type(m, T_TABLE, 0);
	if (t < 0)
		return -1;
	n = get32(pl(m, t));
	w->n = 0;
	for (k = 0; k < n; k++) {
		e = pl(m, t) + 8 + 16 * k;
		if (8 + 16 * (k + 1) > m->r[t].plen || get32(e) >= NOFILE)
			return -1;
		f = find_id(m, get64(e + 8));
		if (f < 0 || m->r[f].type != T_FILE || m->r[f].plen < F_PATH + 2)
			return -1;
		p = pl(m, f);
		i = w->n++;
		w->fd[i] = get32(e);
		w->cloexec[i] = get32(e + 4) & 1;
		w->file[i] = get64(e + 8);
		w->kind[i] = get16(p + F_KIND);
		w->f_flags[i] = get32(p + F_FLAGS);
		w->pos[i] = (int64_t)get64(p + F_POS);
		w->dev[i] = get64(p + F_DEV);
		w->ino[i] = get64(p + F_INO);
		w->rdev[i] = 0;
		if (w->kind[i] == K_CHR && m->r[f].plen >= F_PATH + 2 + (uint32_t)get16(p + F_PATH) + 8)
			w->rdev[i] = get64(p + F_PATH + 2 + get16(p + F_PATH));
		w->external[i] = w->kind[i] == K_EXTERNAL;
	}
	return 0;
}

/* huge_decode_dev(): the image's device numbers as a dev_t */
static dev_t dec_dev(uint64_t v)
{
	return makedev((v & 0xfff00) >> 8, (v & 0xff) | ((v >> 12) & 0xfff00));
}

/*
 * The f_flags bits restart restores and F_GETFL reports. Not O_LARGEFILE
 * (the kernel forces it on 64-bit), not O_CLOEXEC (an fd flag, checked from
 * the table entry).
 */
#define COMPARED_F_FLAGS	(O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | O_DIRECT | \
				 O_DIRECTORY | O_NOFOLLOW | O_NOATIME)

static int sys_kcmp(pid_t pid1, pid_t pid2, int type, unsigned long idx1, unsigned long idx2)
{
	return syscall(__NR_kcmp, pid1, pid2, type, idx1, idx2);
}

/*
 * Checks restored fd @i of @w against its record: the same file (device and
 * inode, or for a character device its rdev), the file type of its kind,
 * the f_flags, close-on-exec, the position; and that fds of one FILE record
 * share one open file while fds of different records do not.
 */
static void check_restored(hostile_t *g, const struct outcome *o, enum via via, const struct want *w, int i)
{
	int fd = w->fd[i], fl, fdfl, j, same, want_fl;
	struct stat st;
	off_t pos;

	if (fstat(fd, &st)) {
		violation(g, o, via, "fd %d restored but fstat fails: %s", fd, strerror(errno));
		return;
	}
	switch (w->kind[i]) {
	case K_REGULAR:
	case K_DIR:
		if (w->kind[i] == K_REGULAR ? !S_ISREG(st.st_mode) : !S_ISDIR(st.st_mode))
			violation(g, o, via, "fd %d: mode %o for a file of kind %d", fd, st.st_mode,
				  w->kind[i]);
		if (st.st_dev != dec_dev(w->dev[i]) || st.st_ino != w->ino[i])
			violation(g, o, via, "fd %d is %u:%u ino %lu, its record says %u:%u ino %llu",
				  fd, major(st.st_dev), minor(st.st_dev), (unsigned long)st.st_ino,
				  major(dec_dev(w->dev[i])), minor(dec_dev(w->dev[i])),
				  (unsigned long long)w->ino[i]);
		break;
	case K_CHR:
		if (!S_ISCHR(st.st_mode) || st.st_rdev != dec_dev(w->rdev[i]))
			violation(g, o, via, "fd %d is rdev %u:%u (mode %o), its record says %u:%u", fd,
				  major(st.st_rdev), minor(st.st_rdev), st.st_mode,
				  major(dec_dev(w->rdev[i])), minor(dec_dev(w->rdev[i])));
		break;
	default:
		violation(g, o, via, "fd %d restored from a record of kind %d", fd, w->kind[i]);
	}
	fl = fcntl(fd, F_GETFL);
	want_fl = w->f_flags[i] & COMPARED_F_FLAGS;
	/* __O_SYNC alone (no kernel records that) opens as O_SYNC, which includes O_DSYNC */
	if (want_fl & O_SYNC & ~O_DSYNC)
		want_fl |= O_DSYNC;
	if ((fl & COMPARED_F_FLAGS) != want_fl)
		violation(g, o, via, "fd %d: F_GETFL %#o, its record's f_flags %#o (compared: %#o)",
			  fd, fl, w->f_flags[i], COMPARED_F_FLAGS);
	fdfl = fcntl(fd, F_GETFD);
	if (fdfl < 0 || !!(fdfl & FD_CLOEXEC) != w->cloexec[i])
		violation(g, o, via, "fd %d: FD_CLOEXEC %d, its table entry says %d", fd,
			  fdfl & FD_CLOEXEC, w->cloexec[i]);
	pos = lseek(fd, 0, SEEK_CUR);
	if (w->kind[i] == K_REGULAR && pos != w->pos[i])
		violation(g, o, via, "fd %d at %lld, image says %lld", fd, (long long)pos,
			  (long long)w->pos[i]);
	if (w->kind[i] == K_CHR && pos != 0)
		violation(g, o, via, "character device fd %d at %lld, not 0", fd, (long long)pos);
	/* sharing, against the entries before this one */
	for (j = 0; j < i && g->kcmp_works; j++) {
		if (w->external[j])
			continue;
		same = sys_kcmp(getpid(), getpid(), KCMP_FILE, w->fd[j], fd);
		if (same < 0)
			continue;
		if ((same == 0) != (w->file[j] == w->file[i]))
			violation(g, o, via, "fds %d and %d %s one open file, their records %llu and %llu",
				  w->fd[j], fd, same == 0 ? "share" : "do not share",
				  (unsigned long long)w->file[j], (unsigned long long)w->file[i]);
	}
}

/*
 * The caller's own fds (those open before any attempt) against the baseline:
 * each still open, the same file (device, inode, rdev), the same F_GETFL and
 * F_GETFD. @now says which fds below NOFILE are open.
 */
static void check_callers_fds(hostile_t *g, const struct outcome *o, enum via via, const bool *now,
			      const char *when)
{
	struct stat st;
	int fd;

	for (fd = 0; fd < NOFILE; fd++) {
		if (!g->base[fd])
			continue;
		if (!now[fd]) {
			violation(g, o, via, "%s, the caller's fd %d was closed", when, fd);
			continue;
		}
		if (fstat(fd, &st) || st.st_dev != g->id[fd].dev || st.st_ino != g->id[fd].ino ||
		    st.st_rdev != g->id[fd].rdev)
			violation(g, o, via, "%s, the caller's fd %d is another file", when, fd);
		if (fcntl(fd, F_GETFL) != g->id[fd].fl || fcntl(fd, F_GETFD) != g->id[fd].fdfl)
			violation(g, o, via, "%s, the caller's fd %d has other flags (%#o/%d, were %#o/%d)",
				  when, fd, fcntl(fd, F_GETFL), fcntl(fd, F_GETFD), g->id[fd].fl,
				  g->id[fd].fdfl);
	}
}

/*
 * What Documentation/restart.rst pairs with each errno of a refusal: the
 * reasons it may come with, and the fd it names. Per-file reasons name the
 * lowest fd of the image using the file at fault, and that file's record.
 */
static void check_refusal(hostile_t *g, const struct outcome *o, enum via via, const uint8_t *b, size_t len)
{
	static struct want w;
	unsigned int r = o->a.reason;
	int e = o->err, fd = o->a.err_fd, i, k = -1;
	bool ok, table = !table_of(g, b, len, &w);

#define R(x) (r == CKPT_REASON_##x)
	switch (e) {
	case EBADMSG:
		ok = R(BAD_IMAGE);
		break;
	case EOPNOTSUPP:
		ok = R(BAD_IMAGE) || R(FILE_ACCESS);
		break;
	case EINVAL:
		ok = R(BAD_ARGUMENT) || R(BAD_IMAGE) || R(FILE_ACCESS);
		break;
	case EBADF:
		ok = R(BAD_ARGUMENT) || R(EXTERNAL_MISSING);
		break;
	case ENOEXEC:
		ok = R(IMAGE_VERSION) || R(ENV_MISMATCH);
		break;
	case EFBIG:
	case EMFILE:
		ok = R(TOO_LARGE);
		break;
	case ENOENT:
		ok = R(FILE_MISSING);
		break;
	case ESTALE:
		ok = R(FILE_MISSING) || R(FILE_REPLACED) || R(FILE_CHANGED);
		break;
	case EACCES:
	case EPERM:
		ok = R(FILE_ACCESS);
		break;
	case EBUSY:
		ok = R(FD_BUSY);
		break;
	default:	/* ENOTDIR, EISDIR, ELOOP, ENAMETOOLONG, EXDEV: an open's or lookup's error */
		ok = R(FILE_ACCESS) || R(FILE_MISSING) || R(FILE_REPLACED);
	}
	if (!ok)
		violation(g, o, via, "errno %s with reason %u, which restart.rst does not pair with it",
			  strerrorname_np(e) ?: "?", r);
	if (e == EMFILE && fd >= 0 && fd < NOFILE)
		violation(g, o, via, "EMFILE names fd %d, below RLIMIT_NOFILE %d", fd, NOFILE);
	if (R(IMAGE_VERSION) || R(ENV_MISMATCH) || R(BAD_ARGUMENT) || e == EFBIG) {
		if (fd != -1)
			violation(g, o, via, "reason %u names fd %d: nothing per fd is at fault", r, fd);
		return;
	}
	if (!table) {
		/* the test cannot read the table (mutated): only a per-file reason must name an fd */
		if (fd < 0 && !R(BAD_IMAGE) && !R(NONE) && e != EMFILE)
			violation(g, o, via, "reason %u names no fd", r);
		return;
	}
	for (i = 0; i < w.n; i++)
		if (w.fd[i] == fd)
			k = i;
	if (R(BAD_IMAGE) || R(NONE)) {
		if (fd != -1 && k < 0)
			violation(g, o, via, "err_fd %d is not in the image's table", fd);
		return;
	}
	if (k < 0) {
		violation(g, o, via, "reason %u: err_fd %d is not in the image's table", r, fd);
		return;
	}
	if (R(FD_BUSY) && (w.external[k] || !g->base[fd]))
		violation(g, o, via, "FD_BUSY names fd %d, which is %s", fd,
			  w.external[k] ? "external" : "not open in the caller");
	if (R(EXTERNAL_MISSING) && (!w.external[k] || g->base[fd]))
		violation(g, o, via, "EXTERNAL_MISSING names fd %d, which is %s", fd,
			  !w.external[k] ? "not external" : "open in the caller");
	if (R(FILE_MISSING) || R(FILE_REPLACED) || R(FILE_CHANGED) || R(FILE_ACCESS)) {
		for (i = 0; i < k; i++)
			if (w.file[i] == w.file[k])
				violation(g, o, via, "err_fd %d, but fd %d uses the same file", fd, w.fd[i]);
		if (o->a.err_record != w.file[k])
			violation(g, o, via, "err_record %llu, fd %d's file is record %llu",
				  (unsigned long long)o->a.err_record, fd,
				  (unsigned long long)w.file[k]);
	}
#undef R
}

/* ---- one attempt ---- */

static bool accepted_errno(int e)
{
	size_t i;

	for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++)
		if (accepted[i] == e)
			return true;
	return false;
}

static ssize_t write_all(int fd, const uint8_t *b, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = write(fd, b + done, len - done);
		if (n <= 0)
			return -1;
		done += n;
	}
	return done;
}

/*
 * Feeds @len bytes to CKPT_IOC_RESTART by @via. A pipe small enough is filled
 * and its write end closed before the ioctl (cheap); VIA_FORK has a child
 * write it while restart reads, as a real `ckpt restore < image` would.
 */
static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void run_restart(hostile_t *g, const uint8_t *b, size_t len, enum via via, __u64 flags,
			struct outcome *o)
{
	int in = g->img_fd, p[2], st;
	double t0 = now_s(), t1;
	pid_t pid = 0;

	memset(o, 0, sizeof(*o));
	if (via == VIA_FILE) {
		if (ftruncate(g->img_fd, 0) || pwrite(g->img_fd, b, len, 0) != (ssize_t)len ||
		    lseek(g->img_fd, 0, SEEK_SET)) {
			o->rc = -2;
			o->err = errno;
			return;
		}
	} else {
		if (pipe2(p, O_CLOEXEC)) {
			o->rc = -2;
			o->err = errno;
			return;
		}
		if (via == VIA_PIPE && len > (size_t)fcntl(p[1], F_GETPIPE_SZ))
			via = VIA_FORK;
		if (via == VIA_PIPE) {
			write_all(p[1], b, len);
		} else {
			pid = fork();
			if (pid == 0) {
				/* restart stops at the terminator: the rest gets EPIPE */
				signal(SIGPIPE, SIG_IGN);
				close(p[0]);
				_exit(write_all(p[1], b, len) < 0);
			}
		}
		close(p[1]);
		in = p[0];
	}
	o->a.fd = in;
	o->a.flags = flags;
	o->a.log_buf = (__u64)(unsigned long)o->log;
	o->a.log_size = sizeof(o->log);
	errno = 0;
	t1 = now_s();
	o->rc = ioctl(g->dev, CKPT_IOC_RESTART, &o->a);
	o->err = o->rc ? errno : 0;
	g->t_ioctl += now_s() - t1;
	if (in != g->img_fd)
		close(in);
	if (pid > 0)
		waitpid(pid, &st, 0);
	g->t_feed += now_s() - t0;
}

/*
 * One image, every invariant checked. @want_errno: 0 it must be restored, an
 * errno it must be refused with that one, REFUSED any accepted refusal, ANY
 * either. Returns the outcome's errno (0 restored), or -1 if it ran badly.
 */
/* Closes the fds open in @now that are not the caller's, a close_range() per run of them. */
static void close_new(hostile_t *g, const bool *now)
{
	int fd, lo;

	for (fd = 0; fd < NOFILE; fd++) {
		if (g->base[fd] || !now[fd])
			continue;
		for (lo = fd; fd + 1 < NOFILE && !g->base[fd + 1] && now[fd + 1]; fd++)
			;
		if (syscall(__NR_close_range, lo, fd, 0))
			for (int k = lo; k <= fd; k++)
				close(k);
	}
}

/*
 * Checks the outcome @o of restarting @b (@len bytes) against every rule,
 * closes what a restore installed. Returns the errno (0 restored).
 */
static int judge(hostile_t *g, const uint8_t *b, size_t len, enum via via, int want_errno, struct outcome *o_)
{
	static struct want w;
	bool now[NOFILE], listed[NOFILE];
	struct outcome o = *o_;
	int fd, i, n;
	double t0;

	g->attempts++;
	__atomic_add_fetch(g->images, 1, __ATOMIC_RELAXED);
	if (o.rc == -2) {
		violation(g, &o, via, "feeding the image failed");
		return -1;
	}
	t0 = now_s();
	fds_now(now);
	g->hist[o.err < 160 ? o.err : 159]++;

	if (o.rc == 0) {
		g->restored++;
		memset(listed, 0, sizeof(listed));
		if (table_of(g, b, len, &w)) {
			violation(g, &o, via, "restored an image whose file table the test cannot read");
		} else {
			n = 0;
			for (i = 0; i < w.n; i++) {
				fd = w.fd[i];
				listed[fd] = true;
				if (w.external[i]) {
					if (!g->base[fd])
						violation(g, &o, via, "external fd %d was not open", fd);
					continue;
				}
				n++;
				if (g->base[fd])
					violation(g, &o, via, "restored over the caller's open fd %d", fd);
				else if (!now[fd])
					violation(g, &o, via, "fd %d of the table not installed", fd);
				else
					check_restored(g, &o, via, &w, i);
			}
			if (o.a.nr_fds != (__u32)n)
				violation(g, &o, via, "nr_fds %u, the table has %d non-external fds",
					  o.a.nr_fds, n);
			if (o.a.nr_external != (__u32)(w.n - n))
				violation(g, &o, via, "nr_external %u, the table has %d external fds",
					  o.a.nr_external, w.n - n);
			if (o.a.bytes != w.end)
				violation(g, &o, via, "bytes %llu, the terminator ends at %zu",
					  (unsigned long long)o.a.bytes, w.end);
			if (o.a.reason != CKPT_REASON_NONE || o.a.err_fd != -1)
				violation(g, &o, via, "restored, yet reason %u err_fd %d", o.a.reason,
					  o.a.err_fd);
		}
		for (fd = 0; fd < NOFILE; fd++) {
			if (!g->base[fd] && now[fd] && !listed[fd])
				violation(g, &o, via, "fd %d installed but not in the table", fd);
		}
		check_callers_fds(g, &o, via, now, "restored");
		close_new(g, now);
		if (g->restored % 16 == 1)
			deep_check(g, &o, via);
	} else {
		if (!accepted_errno(o.err))
			violation(g, &o, via, "errno %d (%s) is not one restart documents",
				  o.err, strerror(o.err));
		check_refusal(g, &o, via, b, len);
		if ((o.a.flags & CKPT_RESTART_IGNORE_CONTENT) && o.a.reason == CKPT_REASON_FILE_CHANGED)
			violation(g, &o, via, "FILE_CHANGED despite CKPT_RESTART_IGNORE_CONTENT");
		if (!o.log[0] || !memchr(o.log, '\0', sizeof(o.log)))
			violation(g, &o, via, "no NUL-terminated message in log_buf");
		if (o.a.nr_fds)
			violation(g, &o, via, "refused but nr_fds %u", o.a.nr_fds);
		for (fd = 0; fd < NOFILE; fd++) {
			if (!g->base[fd] && now[fd])
				violation(g, &o, via, "refused, yet fd %d was installed (leak)", fd);
		}
		check_callers_fds(g, &o, via, now, "refused");
		close_new(g, now);
		if (g->attempts % g->deep_every == 0)
			deep_check(g, &o, via);
	}

	if (want_errno == 0 && o.rc)
		violation(g, &o, via, "expected a restore");
	else if (want_errno == REFUSED && !o.rc)
		violation(g, &o, via, "expected a refusal, the image was restored");
	else if (want_errno == CORRUPT && o.err != EBADMSG &&
		 (o.err != ENOEXEC || !memcmp(b + 8, g->seed_bytes + 8, 4)))
		violation(g, &o, via, "expected EBADMSG%s", memcmp(b + 8, g->seed_bytes + 8, 4) ?
			  " or ENOEXEC (the version changed)" : "");
	else if (want_errno > 0 && o.err != want_errno)
		violation(g, &o, via, "expected errno %d (%s)", want_errno, strerror(want_errno));
	g->t_check += now_s() - t0;
	return o.err;
}

/* Feeds one image by itself and judges it. */
static int attempt_now_flags(hostile_t *g, const uint8_t *b, size_t len, enum via via, __u64 flags,
			     int want_errno)
{
	struct outcome o;

	run_restart(g, b, len, via, flags, &o);
	return judge(g, b, len, via, want_errno, &o);
}

static int attempt_now(hostile_t *g, const uint8_t *b, size_t len, enum via via, int want_errno)
{
	struct outcome o;

	run_restart(g, b, len, via, 0, &o);
	return judge(g, b, len, via, want_errno, &o);
}

/*
 * File attempts are batched: up to QMAX images back to back in the image
 * file, one pwrite for all. Restart reads a regular file from its offset
 * and stops at the terminator, so each ioctl consumes one image and leaves
 * the offset at the next (if it stopped early, an lseek moves on). This
 * saves three syscalls an attempt, which under TCG with KASAN is a good
 * part of its cost. An image whose reading ran on into the next one (a
 * mutated length) is judged again on its own, through a pipe.
 */
#define QMAX		64
#define QBYTES		(1U << 20)

struct batch {
	int n;
	size_t used;
	struct { size_t off, len; int want, iter; __u64 flags; char desc[512]; } e[QMAX];
	uint8_t buf[QBYTES];
};

static void flush(hostile_t *g)
{
	size_t cur = 0, len;
	struct outcome o;
	int i, saved_iter = g->iter;
	char saved_desc[sizeof(g->desc)];
	double t0;
	off_t at;

	if (!g->q->n)
		return;
	memcpy(saved_desc, g->desc, sizeof(saved_desc));
	t0 = now_s();
	if (pwrite(g->img_fd, g->q->buf, g->q->used, 0) != (ssize_t)g->q->used || lseek(g->img_fd, 0, SEEK_SET))
		ksft_print_msg("%s: writing the image batch failed: %s\n", g->test, strerror(errno));
	g->t_feed += now_s() - t0;
	for (i = 0; i < g->q->n; i++) {
		g->iter = g->q->e[i].iter;
		memcpy(g->desc, g->q->e[i].desc, sizeof(g->q->e[i].desc));
		len = g->q->e[i].len;
		if (cur != g->q->e[i].off) {
			lseek(g->img_fd, g->q->e[i].off, SEEK_SET);
			cur = g->q->e[i].off;
		}
		memset(&o, 0, sizeof(o));
		o.a.fd = g->img_fd;
		o.a.flags = g->q->e[i].flags;
		o.a.log_buf = (__u64)(unsigned long)o.log;
		o.a.log_size = sizeof(o.log);
		t0 = now_s();
		o.rc = ioctl(g->dev, CKPT_IOC_RESTART, &o.a);
		o.err = o.rc ? errno : 0;
		g->t_ioctl += now_s() - t0;
		g->t_feed += now_s() - t0;
		cur += o.a.bytes;
		/* the offset is where restart says it stopped reading: check it now and then */
		if (i == g->q->n - 1 && (at = lseek(g->img_fd, 0, SEEK_CUR)) != (off_t)cur) {
			violation(g, &o, VIA_FILE, "the file offset is %lld after reading %llu bytes from %zu",
				  (long long)at, (unsigned long long)o.a.bytes, g->q->e[i].off);
			cur = at;
		}
		if (o.a.bytes > len) {
			/* it read into the next image: judge this one alone */
			judge(g, g->q->buf + g->q->e[i].off, len, VIA_FILE, ANY, &o);
			g->attempts--;
			__atomic_sub_fetch(g->images, 1, __ATOMIC_RELAXED);
			attempt_now_flags(g, g->q->buf + g->q->e[i].off, len, VIA_PIPE, g->q->e[i].flags,
					  g->q->e[i].want);
			continue;
		}
		judge(g, g->q->buf + g->q->e[i].off, len, VIA_FILE, g->q->e[i].want, &o);
	}
	g->q->n = 0;
	g->q->used = 0;
	g->iter = saved_iter;
	memcpy(g->desc, saved_desc, sizeof(saved_desc));
}

/*
 * The flags of an attempt: 0 where the outcome is specified; where any is
 * acceptable, three attempts in eight accept changed content, advisory
 * environment mismatches, or both (never REPLACE_FDS: the caller's own fds,
 * the device and the image among them, are not to be replaced).
 */
static __u64 flags_for(hostile_t *g, int want_errno)
{
	static const __u64 f[] = { CKPT_RESTART_IGNORE_CONTENT, CKPT_RESTART_ACCEPT_ADVISORY,
				   CKPT_RESTART_IGNORE_CONTENT | CKPT_RESTART_ACCEPT_ADVISORY };

	if (want_errno != ANY || g->iter % 8 < 5)
		return 0;
	return f[g->iter % 8 - 5];
}

/* An attempt whose outcome the caller does not need: file ones are batched. */
static void attempt(hostile_t *g, const uint8_t *b, size_t len, enum via via, int want_errno)
{
	if (via != VIA_FILE || len > QBYTES) {
		attempt_now_flags(g, b, len, via, flags_for(g, want_errno), want_errno);
		return;
	}
	if (g->q->n == QMAX || g->q->used + len > QBYTES)
		flush(g);
	g->q->e[g->q->n].off = g->q->used;
	g->q->e[g->q->n].len = len;
	g->q->e[g->q->n].want = want_errno;
	g->q->e[g->q->n].flags = flags_for(g, want_errno);
	g->q->e[g->q->n].iter = g->iter;
	memcpy(g->q->e[g->q->n].desc, g->desc, sizeof(g->desc));
	memcpy(g->q->buf + g->q->used, b, len);
	g->q->used += len;
	g->q->n++;
}

static void summary(hostile_t *g, const char *who);

/*
 * Runs one(i) for i < n in two processes, even i here and odd i in a child:
 * the guest has two CPUs and an attempt is almost all kernel time. The child
 * has a fd table of its own (restart installs into it, it is checked like
 * ours) and an image file of its own at the same fd number. Its violations
 * are printed by it and counted through its exit status.
 */
static void split(hostile_t *g, int n, uint64_t salt, void (*one)(hostile_t *g, int i))
{
	char name[32];
	int i, st, fd;
	pid_t pid;

	flush(g);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		snprintf(name, sizeof(name), "/image-%d", getpid());
		fd = open(name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || dup3(fd, g->img_fd, O_CLOEXEC) != g->img_fd) {
			ksft_print_msg("%s: worker: image file: %s\n", g->test, strerror(errno));
			_exit(100);
		}
		close(fd);
		take_baseline(g);
		g->attempts = g->restored = g->violations = 0;
		memset(g->hist, 0, sizeof(g->hist));
		g->t_feed = g->t_ioctl = g->t_check = 0;
		clock_gettime(CLOCK_MONOTONIC, &g->t0);
	}
	g->in_split = true;
	for (i = pid == 0 ? 1 : 0; i < n; i += pid < 0 ? 1 : 2) {
		g->iter = i;
		rng_for(g, salt, i);
		one(g, i);
	}
	flush(g);
	g->in_split = false;
	if (pid == 0) {
		final_fd_check(g);	/* before the unlink, which /proc would show */
		unlink(name);
		summary(g, "worker");
		fflush(stdout);
		_exit(g->violations > 100 ? 100 : g->violations);
	}
	if (pid < 0)
		return;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) {
		ksft_print_msg("%s: worker died: status %#x\n", g->test, st);
		g->violations++;
	} else {
		g->violations += WEXITSTATUS(st);
	}
}

/* Serializes the working image and tries it, mostly from the file, some through pipes. */
static void try_w(hostile_t *g, int want_errno)
{
	size_t len = serialize(g->w, g->out, OUT_SIZE);

	if (!g->in_split)
		g->iter++;
	if (!len) {
		ksft_print_msg("%s: image too large for the buffer: %s\n", g->test, g->desc);
		g->violations++;
		return;
	}
	attempt(g, g->out, len, g->iter % 151 == 0 ? VIA_FORK : g->iter % 8 == 0 ? VIA_PIPE : VIA_FILE,
		want_errno);
}

static enum via random_via(hostile_t *g)
{
	uint32_t r = below(g, 1000);

	/*
	 * Mostly a file (the cheapest), some through a pipe, a few forked
	 * writers: a fork costs as much as twenty attempts under TCG.
	 */
	return r < 920 ? VIA_FILE : r < 998 ? VIA_PIPE : VIA_FORK;
}

/* ---- the fixture: the seed image ---- */

static int place(const char *path, int flags, int fd, off_t pos)
{
	int t = open(path, flags, 0644);

	if (t < 0)
		return -1;
	if (dup3(t, fd, flags & O_CLOEXEC) != fd)
		return -1;
	close(t);
	if (pos && lseek(fd, pos, SEEK_SET) != pos)
		return -1;
	return 0;
}

static int fill(const char *path, size_t len)
{
	char buf[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t i;

	if (fd < 0)
		return -1;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = 'a' + i % 26;
	if (write(fd, buf, len) != (ssize_t)len)
		return -1;
	return close(fd);
}


FIXTURE_SETUP(hostile)
{
	hostile_t *g = self;
	int ext[NOFILE], next, fd;
	char path[160], log[512];
	struct ckpt_checkpoint c;
	struct rlimit rl;

	memset(g, 0, sizeof(*g));
	g->test = _metadata->name;
	g->q = calloc(1, sizeof(*g->q));
	g->images = mmap(NULL, sizeof(*g->images), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(g->q && g->images != MAP_FAILED);
	g->deep_every = 128;
	clock_gettime(CLOCK_MONOTONIC, &g->t0);
	g->seed = malloc(sizeof(struct img));
	g->w = malloc(sizeof(struct img));
	g->scratch = malloc(sizeof(struct img));
	g->out = malloc(OUT_SIZE);
	g->seed_bytes = malloc(OUT_SIZE);
	ASSERT_TRUE(g->seed && g->w && g->scratch && g->out && g->seed_bytes);

	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &rl));
	ASSERT_GE(rl.rlim_max, (rlim_t)NOFILE);
	rl.rlim_cur = NOFILE;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));

	g->dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_GE(g->dev, 0) TH_LOG("open /dev/ckpt: %s (is ckpt.ko loaded?)", strerror(errno));
	g->dir[0] = '\0';	/* the root of the chroot below */
	/*
	 * The guest's /tmp is overlayfs, which restart cannot reopen: a tmpfs of
	 * our own, in a mount namespace of our own (it goes away with this test
	 * process), on a fresh directory under /tmp. We chroot into it, so the
	 * image's paths are "/data", "/dev/null"... and every path restart
	 * resolves stays in the tmpfs: a walk through the guest's 9p root costs
	 * a round trip to the host per component, which would dominate the run.
	 */
	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	strcpy(path, "/tmp/ckpt-hostile-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(path));
	/* to remove the directory at teardown, from inside the chroot */
	/* not O_PATH: poll() reports those as not open, and the fd checks rely on poll */
	g->tmp_fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(g->tmp_fd, 0);
	strcpy(g->tmp_name, path + strlen("/tmp/"));
	ASSERT_EQ(0, mount("tmpfs", path, "tmpfs", 0, "size=64m,mode=0755"));
	ASSERT_EQ(0, chdir(path));
	ASSERT_EQ(0, mkdir("proc", 0555));
	ASSERT_EQ(0, mount("proc", "proc", "proc", 0, NULL));
	ASSERT_EQ(0, mkdir("dev", 0755));
	ASSERT_EQ(0, mknod("dev/null", S_IFCHR | 0666, makedev(1, 3)));
	ASSERT_EQ(0, mknod("dev/zero", S_IFCHR | 0666, makedev(1, 5)));
	ASSERT_EQ(0, mknod("dev/urandom", S_IFCHR | 0666, makedev(1, 9)));
	ASSERT_EQ(0, mknod("dev/sda", S_IFCHR | 0666, makedev(8, 0)));
	ASSERT_EQ(0, mknod("dev/tty1", S_IFCHR | 0666, makedev(4, 1)));
	ASSERT_EQ(0, chroot("."));
	ASSERT_EQ(0, chdir("/"));
	snprintf(g->data, sizeof(g->data), "%s/data", g->dir);
	snprintf(g->other, sizeof(g->other), "%s/other", g->dir);
	snprintf(g->sub, sizeof(g->sub), "%s/sub", g->dir);
	ASSERT_EQ(0, fill(g->data, 1000));
	ASSERT_EQ(0, fill(g->other, 1000));
	ASSERT_EQ(0, mkdir(g->sub, 0755));
	snprintf(path, sizeof(path), "%s/link", g->dir);
	ASSERT_EQ(0, symlink(g->data, path));
	snprintf(path, sizeof(path), "%s/loop", g->dir);
	ASSERT_EQ(0, symlink(path, path));
	snprintf(path, sizeof(path), "%s/image", g->dir);
	g->img_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_GE(g->img_fd, 0);
	ASSERT_EQ(0, stat(g->data, &g->data_st));

	/*
	 * Everything open now (the runner's pipes, the harness's, the device,
	 * the image file) is declared external: restart keeps those and they
	 * stay open; the seed's own files are the six at FD_BASE.
	 */
	next = ckpt_open_fds(ext, NOFILE);
	ASSERT_GE(next, 0);
	for (int i = 0; i < next; i++) {
		fd = ext[i];
		ASSERT_TRUE(fd < FD_BASE || fd >= FD_BASE + NR_SEED_FDS)
			TH_LOG("fd %d is open at setup: it collides with the seed's fds", fd);
		ASSERT_LT(fd, NOFILE);
	}

	/* a position, a dup (close-on-exec), a directory, /dev/null, a second open, a device */
	ASSERT_EQ(0, place(g->data, O_RDWR, FD_BASE, 123));
	ASSERT_EQ(FD_BASE + 1, dup3(FD_BASE, FD_BASE + 1, O_CLOEXEC));
	ASSERT_EQ(0, place(g->sub, O_RDONLY | O_DIRECTORY, FD_BASE + 2, 0));
	ASSERT_EQ(0, place("/dev/null", O_WRONLY, FD_BASE + 3, 0));
	ASSERT_EQ(0, place(g->data, O_RDONLY | O_NOATIME | O_CLOEXEC, FD_BASE + 4, 7));
	ASSERT_EQ(0, place("/dev/urandom", O_RDONLY | O_NONBLOCK, FD_BASE + 5, 0));

	memset(&c, 0, sizeof(c));
	c.fd = g->img_fd;
	c.external_fds = (__u64)(unsigned long)ext;
	c.nr_external_fds = next;
	c.log_buf = (__u64)(unsigned long)log;
	c.log_size = sizeof(log);
	ASSERT_EQ(0, ioctl(g->dev, CKPT_IOC_CHECKPOINT, &c))
		TH_LOG("checkpoint: %s: %s", strerror(errno), log);
	ASSERT_LT(c.bytes, (__u64)OUT_SIZE);
	g->seed_len = c.bytes;
	ASSERT_EQ((ssize_t)g->seed_len, pread(g->img_fd, g->seed_bytes, g->seed_len, 0));
	ASSERT_EQ(0, parse_img(g->seed_bytes, g->seed_len, g->seed, false, NULL))
		TH_LOG("the test cannot parse the seed image");
	for (fd = FD_BASE; fd < FD_BASE + NR_SEED_FDS; fd++)
		ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, ftruncate(g->img_fd, 0));
	g->kcmp_works = sys_kcmp(getpid(), getpid(), KCMP_FILE, g->dev, g->dev) == 0;
	if (!g->kcmp_works)
		ksft_print_msg("kcmp(KCMP_FILE) unavailable (%s): shared open files not compared\n",
			       strerror(errno));
	take_baseline(g);
}

static void summary(hostile_t *g, const char *who)
{
	struct timespec t1;
	char errs[1024] = "";
	size_t off = 0;
	int e;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (e = 0; e < 160; e++)
		if (g->hist[e] && off < sizeof(errs))
			off += snprintf(errs + off, sizeof(errs) - off, " %s:%d",
					e ? strerrorname_np(e) ?: "?" : "restored", g->hist[e]);
	ksft_print_msg("%s (%s): seed %#llx, %d images (%d restored), %d violations, %.1f s "
		       "(ioctl %.1f, feeding %.1f, checks %.1f); outcomes:%s\n",
		       g->test, who, (unsigned long long)seed, g->attempts, g->restored, g->violations,
		       (t1.tv_sec - g->t0.tv_sec) + (t1.tv_nsec - g->t0.tv_nsec) / 1e9,
		       g->t_ioctl, g->t_feed - g->t_ioctl, g->t_check, errs);
}

FIXTURE_TEARDOWN(hostile)
{
	hostile_t *g = self;
	summary(g, "main");
	/* the tmpfs is private to this process's namespace: detach it, remove its directory */
	umount2("/", MNT_DETACH);
	unlinkat(g->tmp_fd, g->tmp_name, AT_REMOVEDIR);
}

/*
 * The images each test feeds at CKPT_HOSTILE_PCT=100 (the run is deterministic
 * for a seed): CHECK_DONE() fails a test that fed fewer, so no attempt is lost
 * unseen, and together they are the 10 000 images the test is specified to feed.
 */
#define IMAGES_SEED_RESTORES	4
#define IMAGES_BIT_FLIPS_CHECKSUM_FIXED	2500
#define IMAGES_BYTE_OVERWRITES_CHECKSUM_FIXED	2000
#define IMAGES_CORRUPTION_WITHOUT_CHECKSUM_FIXUP	1532
#define IMAGES_TRUNCATION	911
#define IMAGES_RECORD_HEADER_EXTREMES	746
#define IMAGES_HEADER_FIELDS	120
#define IMAGES_FILE_TABLE_EXTREMES	417
#define IMAGES_FILE_RECORD_FIELDS	948
#define IMAGES_STRUCTURE	535
#define IMAGES_TASK_AND_VECTORS	304
#define IMAGES_OVERSIZED	3
#define IMAGES_FLAGS_AND_ARGUMENTS	66
_Static_assert(IMAGES_SEED_RESTORES + IMAGES_BIT_FLIPS_CHECKSUM_FIXED +
	       IMAGES_BYTE_OVERWRITES_CHECKSUM_FIXED + IMAGES_CORRUPTION_WITHOUT_CHECKSUM_FIXUP +
	       IMAGES_TRUNCATION + IMAGES_RECORD_HEADER_EXTREMES + IMAGES_HEADER_FIELDS +
	       IMAGES_FILE_TABLE_EXTREMES + IMAGES_FILE_RECORD_FIELDS + IMAGES_STRUCTURE +
	       IMAGES_TASK_AND_VECTORS + IMAGES_OVERSIZED + IMAGES_FLAGS_AND_ARGUMENTS >= 10000,
	       "fewer than 10 000 images");

/*
 * Fails the test if any attempt broke a rule (each was already printed), or
 * if it fed fewer than @min images (its own and its worker's; @min is for
 * CKPT_HOSTILE_PCT=100, scaled down like the random loops below that).
 */
#define CHECK_DONE(min) do { \
	struct stat _st; \
	flush(g); \
	final_fd_check(g); \
	ksft_print_msg("%s: %ld images (at least %d)\n", g->test, *g->images, \
		       scaled(min) < (min) ? scaled(min) : (min)); \
	EXPECT_GE(*g->images, (long)(scaled(min) < (min) ? scaled(min) : (min))); \
	ASSERT_EQ(0, stat(g->data, &_st)); \
	/* restart never writes: the file it reopens keeps its size and mtime */ \
	EXPECT_EQ(g->data_st.st_size, _st.st_size); \
	EXPECT_EQ(g->data_st.st_mtim.tv_sec, _st.st_mtim.tv_sec); \
	EXPECT_EQ(g->data_st.st_mtim.tv_nsec, _st.st_mtim.tv_nsec); \
	EXPECT_EQ(0, g->violations) TH_LOG("%d violations, see above", g->violations); \
} while (0)

/* ---- the tests ---- */

/*
 * The seed itself must restore, by each transport, with what was checkpointed:
 * otherwise every "restored" outcome below would mean nothing.
 */
TEST_F_TIMEOUT(hostile, seed_restores, 600)
{
	hostile_t *g = self;
	uint8_t junk[64];
	struct outcome o;
	int p[2];

	ksft_print_msg("seed %#llx; seed image %zu bytes, %d records\n",
		       (unsigned long long)seed, g->seed_len, g->seed->n + 1);
	/* our CRC-32C: the check value, and the checksum restart's checkpoint stored */
	ASSERT_EQ(0xE3069283U, crc32c((const uint8_t *)"123456789", 9));
	ASSERT_EQ(get32(g->seed_bytes + g->seed_len - 4), crc32c(g->seed_bytes, g->seed_len - 4));
	/* and our encoder reproduces the seed byte for byte */
	ASSERT_EQ(g->seed_len, serialize(g->seed, g->out, OUT_SIZE));
	ASSERT_EQ(0, memcmp(g->out, g->seed_bytes, g->seed_len));

	describe(g, "none (the seed)");
	attempt(g, g->seed_bytes, g->seed_len, VIA_FILE, 0);
	attempt(g, g->seed_bytes, g->seed_len, VIA_PIPE, 0);
	attempt(g, g->seed_bytes, g->seed_len, VIA_FORK, 0);

	/* what comes back, in detail: positions, the shared offset of the dup, cloexec */
	run_restart(g, g->seed_bytes, g->seed_len, VIA_FILE, 0, &o);
	ASSERT_EQ(0, o.rc) TH_LOG("%s", o.log);
	ASSERT_EQ((__u32)NR_SEED_FDS, o.a.nr_fds);
	EXPECT_EQ(123, lseek(FD_BASE, 0, SEEK_CUR));
	EXPECT_EQ(7, lseek(FD_BASE + 4, 0, SEEK_CUR));
	EXPECT_EQ(500, lseek(FD_BASE, 500, SEEK_SET));
	EXPECT_EQ(500, lseek(FD_BASE + 1, 0, SEEK_CUR));
	EXPECT_EQ(0, fcntl(FD_BASE, F_GETFD));
	EXPECT_EQ(FD_CLOEXEC, fcntl(FD_BASE + 1, F_GETFD));
	EXPECT_EQ(O_WRONLY, fcntl(FD_BASE + 3, F_GETFL) & O_ACCMODE);
	EXPECT_TRUE(fcntl(FD_BASE + 5, F_GETFL) & O_NONBLOCK);
	for (int fd = FD_BASE; fd < FD_BASE + NR_SEED_FDS; fd++)
		close(fd);

	/* restart reads up to the terminator and never past it: from a file... */
	memset(junk, 0xa5, sizeof(junk));
	memcpy(g->out, g->seed_bytes, g->seed_len);
	memcpy(g->out + g->seed_len, junk, sizeof(junk));
	describe(g, "64 bytes of junk after the terminator");
	attempt_now(g, g->out, g->seed_len + sizeof(junk), VIA_FILE, 0);
	EXPECT_EQ((off_t)g->seed_len, lseek(g->img_fd, 0, SEEK_CUR));
	/* ...and from a pipe, which keeps what follows */
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ((ssize_t)(g->seed_len + sizeof(junk)),
		  write(p[1], g->out, g->seed_len + sizeof(junk)));
	memset(&o, 0, sizeof(o));
	o.a.fd = p[0];
	ASSERT_EQ(0, ioctl(g->dev, CKPT_IOC_RESTART, &o.a));
	EXPECT_EQ((__u64)g->seed_len, o.a.bytes);
	for (int fd = FD_BASE; fd < FD_BASE + NR_SEED_FDS; fd++)
		close(fd);
	close(p[1]);
	EXPECT_EQ((ssize_t)sizeof(junk), read(p[0], junk, sizeof(junk)));
	close(p[0]);
	CHECK_DONE(IMAGES_SEED_RESTORES);
}

/*
 * Random bit flips and byte overwrites anywhere, then the checksum recomputed
 * so that each reaches the decoder's and restart's semantic checks. A third
 * pick an offset anywhere in the image (which is mostly the environment
 * vector), the others in the header or one of the records restart acts on,
 * often in its record header.
 */
static size_t pick_offset(hostile_t *g, size_t len)
{
	size_t offs[MAXREC + 1], o = HDR_LEN;
	int i, k = 0;

	if (below(g, 3) == 0)
		return below(g, len - 4);
	for (i = 0; i < g->seed->n; i++) {
		if (g->seed->r[i].type != T_ENV && g->seed->r[i].type != T_TASKVEC)
			offs[k++] = o;
		o += RHDR_LEN + g->seed->r[i].plen;
	}
	if (below(g, 8) == 0)
		return below(g, HDR_LEN);
	i = below(g, k);
	o = offs[i];
	if (below(g, 3) == 0)
		return o + below(g, RHDR_LEN);
	return o + below(g, RHDR_LEN + g->seed->r[find_id(g->seed, get64(g->seed_bytes + o + 8))].plen);
}

static const uint8_t interesting[] = { 0x00, 0x01, 0x02, 0x0f, 0x10, 0x1f, 0x20, 0x2e, 0x2f,
				       0x7f, 0x80, 0xfe, 0xff };

static void mutate_bytes(hostile_t *g, uint8_t *b, size_t len, bool overwrite)
{
	int n = 1 + (below(g, 4) ? 0 : below(g, 4)), k;
	size_t off, used = 0;
	uint8_t v;

	for (k = 0; k < n; k++) {
		off = pick_offset(g, len);
		if (overwrite) {
			do
				v = below(g, 2) ? interesting[below(g, sizeof(interesting))] : rnd(g);
			while (v == b[off]);
			used += snprintf(g->desc + used, sizeof(g->desc) - used,
					 "byte %zu %#x->%#x; ", off, b[off], v);
			b[off] = v;
		} else {
			v = 1 << below(g, 8);
			used += snprintf(g->desc + used, sizeof(g->desc) - used,
					 "byte %zu ^= %#x; ", off, v);
			b[off] ^= v;
		}
	}
}

static void flip_fixed(hostile_t *g, int i __attribute__((unused)))
{
	memcpy(g->out, g->seed_bytes, g->seed_len);
	mutate_bytes(g, g->out, g->seed_len, false);
	reseal(g->out, g->seed_len);
	attempt(g, g->out, g->seed_len, random_via(g), ANY);
}

TEST_F_TIMEOUT(hostile, bit_flips_checksum_fixed, 600)
{
	hostile_t *g = self;
	split(g, scaled(2500), 1, flip_fixed);
	CHECK_DONE(IMAGES_BIT_FLIPS_CHECKSUM_FIXED);
}

static void overwrite_fixed(hostile_t *g, int i __attribute__((unused)))
{
	memcpy(g->out, g->seed_bytes, g->seed_len);
	mutate_bytes(g, g->out, g->seed_len, true);
	reseal(g->out, g->seed_len);
	attempt(g, g->out, g->seed_len, random_via(g), ANY);
}

TEST_F_TIMEOUT(hostile, byte_overwrites_checksum_fixed, 600)
{
	hostile_t *g = self;
	split(g, scaled(2000), 2, overwrite_fixed);
	CHECK_DONE(IMAGES_BYTE_OVERWRITES_CHECKSUM_FIXED);
}

/*
 * The same mutations with the checksum left as it was: the image is corrupt,
 * whatever the bytes now say, and must be refused as such (EBADMSG). Only a
 * change of the immutable version field may be reported as ENOEXEC, since a
 * reader must not interpret anything else of an unknown version.
 */
static void corrupt(hostile_t *g, int i)
{
	memcpy(g->out, g->seed_bytes, g->seed_len);
	mutate_bytes(g, g->out, g->seed_len, i & 1);
	attempt(g, g->out, g->seed_len, random_via(g), CORRUPT);
}

TEST_F_TIMEOUT(hostile, corruption_without_checksum_fixup, 600)
{
	hostile_t *g = self;
	int i, n = scaled(1500);

	split(g, n, 3, corrupt);
	/* the checksum field itself, each bit */
	for (i = 0; i < 32; i++) {
		g->iter = n + i;
		memcpy(g->out, g->seed_bytes, g->seed_len);
		g->out[g->seed_len - 4 + i / 8] ^= 1 << (i % 8);
		describe(g, "checksum bit %d flipped", i);
		attempt(g, g->out, g->seed_len, i & 1 ? VIA_PIPE : VIA_FILE, EBADMSG);
	}
	CHECK_DONE(IMAGES_CORRUPTION_WITHOUT_CHECKSUM_FIXUP);
}

/*
 * An incomplete image: cut at every record boundary (and just after each
 * record header), at every byte of the first 400, and at random places.
 */
TEST_F_TIMEOUT(hostile, truncation, 600)
{
	hostile_t *g = self;
	size_t cut, o = HDR_LEN;
	int i;

	rng_for(g, 4, 0);
	g->iter = 0;
	for (cut = 0; cut < 400 && cut < g->seed_len; cut++, g->iter++) {
		describe(g, "truncated to %zu bytes", cut);
		attempt_now(g, g->seed_bytes, cut, cut % 3 ? VIA_FILE : VIA_PIPE, EBADMSG);
	}
	for (i = 0; i <= g->seed->n; i++) {
		size_t at[] = { o, o + 1, o + RHDR_LEN - 1, o + RHDR_LEN, o + RHDR_LEN + 1 };

		for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++, g->iter++) {
			describe(g, "truncated to %zu bytes (record %d boundary %+zd)", at[k], i,
				 (ssize_t)(at[k] - o));
			attempt_now(g, g->seed_bytes, at[k], k & 1 ? VIA_PIPE : VIA_FILE, EBADMSG);
		}
		if (i < g->seed->n)
			o += RHDR_LEN + g->seed->r[i].plen;
	}
	for (cut = g->seed_len - TERM_LEN; cut < g->seed_len; cut++, g->iter++) {
		describe(g, "truncated in the terminator, to %zu of %zu bytes", cut, g->seed_len);
		attempt_now(g, g->seed_bytes, cut, cut & 1 ? VIA_PIPE : VIA_FILE, EBADMSG);
	}
	for (i = 0; i < scaled(300); i++, g->iter++) {
		cut = below(g, g->seed_len);
		describe(g, "truncated to %zu bytes", cut);
		attempt_now(g, g->seed_bytes, cut, random_via(g), EBADMSG);
	}
	/* a truncated image whose prefix carries a valid-looking (resealed) end */
	for (i = 0; i < scaled(100); i++, g->iter++) {
		cut = HDR_LEN + TERM_LEN + below(g, g->seed_len - HDR_LEN - TERM_LEN);
		memcpy(g->out, g->seed_bytes, cut);
		reseal(g->out, cut);
		describe(g, "truncated to %zu bytes, last 4 bytes resealed", cut);
		attempt_now(g, g->out, cut, random_via(g), EBADMSG);
	}
	CHECK_DONE(IMAGES_TRUNCATION);
}

/* Sets a record header field in the serialized working image, reseals, tries it. */
static size_t rec_offset(const struct img *m, int i)
{
	size_t o = HDR_LEN;
	int k;

	for (k = 0; k < i; k++)
		o += RHDR_LEN + m->r[k].plen;
	return o;
}

TEST_F_TIMEOUT(hostile, record_header_extremes, 600)
{
	hostile_t *g = self;
	static const uint32_t lens[] = { 0, 1, 15, 16, 17, 35, 36, 37, 0xfff, 0x00ffffff,
					 RECORD_MAX_LEN, RECORD_MAX_LEN + 1, 0x7fffffff,
					 0x80000000, 0xfffffff0, 0xffffffff };
	static const uint16_t types[] = { 0, 4, 0xf, 0x11, 0x22, 0x30, 0x7fff, 0x8000, 0xffff };
	size_t len, o;
	int i, nrec = g->seed->n;

	img_copy(g->w, g->seed);
	len = serialize(g->w, g->out, OUT_SIZE);
	for (i = 0; i <= nrec; i++) {
		uint32_t orig;
		size_t k;

		o = i < nrec ? rec_offset(g->seed, i) : g->seed_len - TERM_LEN;
		orig = get32(g->seed_bytes + o + 4);
		for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
			uint32_t v = lens[k];

			if (v == orig)
				continue;
			memcpy(g->out, g->seed_bytes, g->seed_len);
			put32(g->out + o + 4, v);
			reseal(g->out, len);
			g->iter++;
			describe(g, "record %d (type %#x) len %u -> %u", i, get16(g->out + o), orig, v);
			attempt(g, g->out, len, g->iter & 1 ? VIA_PIPE : VIA_FILE, EBADMSG);
		}
		/* off by one, both ways */
		for (int d = -1; d <= 1; d += 2) {
			memcpy(g->out, g->seed_bytes, g->seed_len);
			put32(g->out + o + 4, orig + d);
			reseal(g->out, len);
			g->iter++;
			describe(g, "record %d (type %#x) len %u -> %u", i, get16(g->out + o), orig,
				 orig + d);
			attempt(g, g->out, len, g->iter & 1 ? VIA_PIPE : VIA_FILE, EBADMSG);
		}
		/* flags: every v1 record (and the terminator) is exactly CRITICAL */
		for (uint32_t f = 0; f < 16; f++) {
			memcpy(g->out, g->seed_bytes, g->seed_len);
			put16(g->out + o + 2, f == 0 ? 0 : 1 | 1 << f);
			reseal(g->out, len);
			g->iter++;
			describe(g, "record %d (type %#x) flags -> %#x", i, get16(g->out + o),
				 get16(g->out + o + 2));
			attempt(g, g->out, len, VIA_FILE, EBADMSG);
		}
		/* types: unknown critical ones refuse; a known one of the wrong shape too */
		for (k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
			memcpy(g->out, g->seed_bytes, g->seed_len);
			put16(g->out + o, types[k]);
			reseal(g->out, len);
			g->iter++;
			describe(g, "record %d type %#x -> %#x (critical)", i, get16(g->seed_bytes + o),
				 types[k]);
			attempt(g, g->out, len, VIA_FILE, EBADMSG);
		}
	}

	/* ids: 0 (the terminator's), equal to, below the previous one; max; the terminator's */
	for (i = 0; i < nrec; i++) {
		uint64_t prev = i ? g->seed->r[i - 1].id : 0;
		uint64_t ids[] = { 0, prev, prev ? prev - 1 : 0, UINT64_MAX, UINT64_MAX - 1,
				   g->seed->r[nrec - 1].id + 1 };

		o = rec_offset(g->seed, i);
		for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
			/* a larger id is legal for the last record: it refers to nothing later */
			bool legal = ids[k] > prev && (i == nrec - 1 || ids[k] < g->seed->r[i + 1].id);

			memcpy(g->out, g->seed_bytes, g->seed_len);
			put64(g->out + o + 8, ids[k]);
			reseal(g->out, len);
			g->iter++;
			describe(g, "record %d (type %#x) id %" PRIu64 " -> %" PRIu64, i,
				 g->seed->r[i].type, g->seed->r[i].id, ids[k]);
			attempt(g, g->out, len, g->iter % 4 ? VIA_FILE : VIA_PIPE, legal ? ANY : EBADMSG);
		}
	}
	/* the terminator's id must be 0 */
	for (uint64_t id = 1; id; id = id < 1ULL << 62 ? id << 9 : 0) {
		memcpy(g->out, g->seed_bytes, g->seed_len);
		put64(g->out + g->seed_len - TERM_LEN + 8, id);
		reseal(g->out, len);
		g->iter++;
		describe(g, "terminator id -> %" PRIu64, id);
		attempt(g, g->out, len, VIA_FILE, EBADMSG);
	}
	/* record count and image length off by one, and extreme */
	for (int f = 0; f < 2; f++) {
		uint64_t orig = get64(g->seed_bytes + g->seed_len - TERM_LEN + 16 + 8 * f);
		uint64_t vals[] = { 0, orig - 1, orig + 1, UINT64_MAX, 1ULL << 63 };

		for (size_t k = 0; k < sizeof(vals) / sizeof(vals[0]); k++) {
			memcpy(g->out, g->seed_bytes, g->seed_len);
			put64(g->out + g->seed_len - TERM_LEN + 16 + 8 * f, vals[k]);
			reseal(g->out, len);
			g->iter++;
			describe(g, "terminator %s %" PRIu64 " -> %" PRIu64,
				 f ? "image_len" : "record_count", orig, vals[k]);
			attempt(g, g->out, len, g->iter & 1 ? VIA_PIPE : VIA_FILE, EBADMSG);
		}
	}
	CHECK_DONE(IMAGES_RECORD_HEADER_EXTREMES);
}

/* The image header: magic, version, reserved fields, flags, arch, page size. */
TEST_F_TIMEOUT(hostile, header_fields, 600)
{
	hostile_t *g = self;
	static const uint32_t versions[] = { 0, 2, 3, 0x100, 0x80000001, 0xffffffff };
	size_t len = g->seed_len;
	int i;

	for (i = 0; i < 8; i++) {
		memcpy(g->out, g->seed_bytes, len);
		g->out[i] ^= 0x20;
		reseal(g->out, len);
		g->iter++;
		describe(g, "magic byte %d ^= 0x20", i);
		attempt(g, g->out, len, VIA_FILE, EBADMSG);
	}
	for (i = 0; i < (int)(sizeof(versions) / sizeof(versions[0])); i++) {
		for (int fix = 0; fix < 2; fix++) {
			memcpy(g->out, g->seed_bytes, len);
			put32(g->out + 8, versions[i]);
			if (fix)
				reseal(g->out, len);
			g->iter++;
			describe(g, "version -> %u%s", versions[i], fix ? "" : " (checksum not fixed)");
			/* version 0 is no version at all: malformed or unsupported, both refuse */
			attempt(g, g->out, len, fix ? VIA_FILE : VIA_PIPE, versions[i] ? ENOEXEC : REFUSED);
		}
	}
	/* reserved fields must be zero */
	{
		static const int res[] = { 14, 15, 36, 39, 300, 303 };

		for (i = 0; i < (int)(sizeof(res) / sizeof(res[0])); i++) {
			memcpy(g->out, g->seed_bytes, len);
			g->out[res[i]] = 1;
			reseal(g->out, len);
			g->iter++;
			describe(g, "header reserved byte %d -> 1", res[i]);
			attempt(g, g->out, len, VIA_FILE, EBADMSG);
		}
	}
	/* must-understand flags (0-15) refuse; informational ones (16-31) are ignored */
	for (i = 0; i < 32; i++) {
		memcpy(g->out, g->seed_bytes, len);
		put32(g->out + 20, get32(g->out + 20) | 1U << i);
		reseal(g->out, len);
		g->iter++;
		describe(g, "header flag bit %d set", i);
		attempt(g, g->out, len, i & 1 ? VIA_PIPE : VIA_FILE, i < 16 ? EBADMSG : 0);
	}
	/* created_nsec must be < 10^9 */
	memcpy(g->out, g->seed_bytes, len);
	put32(g->out + 32, 1000000000);
	reseal(g->out, len);
	g->iter++;
	describe(g, "created_nsec 10^9");
	attempt(g, g->out, len, VIA_FILE, EBADMSG);
	/* another architecture or page size is another machine */
	{
		static const uint16_t arches[] = { 0, 2, 0xffff };
		static const uint32_t pages[] = { 0, 1, 4095, 8192, 16384, 1U << 20, 1U << 21,
						  0xffffffff };

		for (i = 0; i < 3; i++) {
			memcpy(g->out, g->seed_bytes, len);
			put16(g->out + 12, arches[i]);
			reseal(g->out, len);
			g->iter++;
			describe(g, "header arch -> %u", arches[i]);
			attempt(g, g->out, len, VIA_FILE, REFUSED);
		}
		for (i = 0; i < (int)(sizeof(pages) / sizeof(pages[0])); i++) {
			memcpy(g->out, g->seed_bytes, len);
			put32(g->out + 16, pages[i]);
			reseal(g->out, len);
			g->iter++;
			describe(g, "header page_size -> %u", pages[i]);
			attempt(g, g->out, len, VIA_FILE, pages[i] == 8192 || pages[i] == 16384 ?
				ENOEXEC : REFUSED);
		}
	}
	/* utsname strings are informational: any bytes */
	for (i = 0; i < 50; i++) {
		memcpy(g->out, g->seed_bytes, len);
		g->out[40 + below(g, 260)] = rnd(g);
		reseal(g->out, len);
		g->iter++;
		describe(g, "a utsname byte");
		attempt(g, g->out, len, VIA_FILE, ANY);
	}
	CHECK_DONE(IMAGES_HEADER_FIELDS);
}

static void table_random(hostile_t *g, int i __attribute__((unused)))
{
	int t = find_type(g->seed, T_TABLE, 0), k;
	uint8_t *p;

	img_copy(g->w, g->seed);
	k = below(g, get32(pl(g->w, t)));
	p = entry(g->w, k) + 4 * below(g, 4);
	put32(p, below(g, 2) ? rnd(g) : get32(p) + below(g, 5) - 2);
	describe(g, "random table field %d/%ld", k, (long)(p - pl(g->w, t)));
	try_w(g, ANY);
}

/* The file table: count, reserved, fd numbers, flags, references. */
TEST_F_TIMEOUT(hostile, file_table_extremes, 600)
{
	hostile_t *g = self;
	static const uint32_t counts[] = { 0, 1, 0x7fffffff, 0x80000000, 0xffffffff };
	static const uint32_t big_fds[] = { NOFILE, NOFILE + 1, 1000, 1 << 20, 0x7fffffff,
					    0x80000000, 0xfffffffe, 0xffffffff };
	int t, k, last, n, i;
	uint8_t *p;

	img_copy(g->w, g->seed);
	t = find_type(g->w, T_TABLE, 0);
	ASSERT_GE(t, 0);
	n = get32(pl(g->w, t));
	last = entry_of_fd(g->w, FD_BASE + 5);
	ASSERT_EQ(n - 1, last) TH_LOG("the seed's fd %d is not the table's last", FD_BASE + 5);

	for (i = 0; i < (int)(sizeof(counts) / sizeof(counts[0])); i++) {
		img_copy(g->w, g->seed);
		put32(pl(g->w, t), counts[i]);
		describe(g, "file table count %d -> %u", n, counts[i]);
		try_w(g, EBADMSG);
	}
	for (i = -1; i <= 1; i += 2) {
		img_copy(g->w, g->seed);
		put32(pl(g->w, t), n + i);
		describe(g, "file table count %d -> %d", n, n + i);
		try_w(g, EBADMSG);
	}
	img_copy(g->w, g->seed);
	put32(pl(g->w, t) + 4, 1);
	describe(g, "file table reserved -> 1");
	try_w(g, EBADMSG);

	/* fd numbers at and beyond RLIMIT_NOFILE: EMFILE, with the fd named */
	for (i = 0; i < (int)(sizeof(big_fds) / sizeof(big_fds[0])); i++) {
		img_copy(g->w, g->seed);
		put32(entry(g->w, last), big_fds[i]);
		describe(g, "fd %d -> %u (RLIMIT_NOFILE %d)", FD_BASE + 5, big_fds[i], NOFILE);
		try_w(g, EMFILE);
	}
	/* just below the limit is fine */
	img_copy(g->w, g->seed);
	put32(entry(g->w, last), NOFILE - 1);
	describe(g, "fd %d -> %d (RLIMIT_NOFILE %d)", FD_BASE + 5, NOFILE - 1, NOFILE);
	try_w(g, 0);
	/* fds must strictly increase: equal, decreasing, wrapped */
	for (k = 1; k < n; k++) {
		uint32_t prev;

		img_copy(g->w, g->seed);
		prev = get32(entry(g->w, k - 1));
		put32(entry(g->w, k), prev);
		describe(g, "table entry %d fd -> %u (equal to the previous)", k, prev);
		try_w(g, EBADMSG);
		img_copy(g->w, g->seed);
		put32(entry(g->w, k - 1), 0xffffffff);
		describe(g, "table entry %d fd -> 0xffffffff (above the next)", k - 1);
		try_w(g, EBADMSG);
	}
	/* entry flags: bit 0 is close-on-exec, any other must be 0 */
	for (i = 0; i < 32; i++) {
		img_copy(g->w, g->seed);
		p = entry(g->w, last);
		put32(p + 4, get32(p + 4) ^ 1U << i);
		describe(g, "fd %d entry flags bit %d toggled", FD_BASE + 5, i);
		try_w(g, i ? EBADMSG : 0);
	}
	/* references: none, the table itself, a non-FILE record, a missing id, forward */
	{
		int task = find_type(g->seed, T_TASK, 0), env = find_type(g->seed, T_ENV, 0);
		uint64_t refs[] = { 0, g->seed->r[t].id, g->seed->r[env].id, g->seed->r[task].id,
				    g->seed->r[g->seed->n - 1].id + 1, UINT64_MAX };
		const char *what[] = { "0", "the table itself", "the env vector",
				       "the task (forward)", "a missing id", "UINT64_MAX" };

		for (k = 0; k < n; k += n - 1 > 0 ? 1 : 1) {
			for (i = 0; i < (int)(sizeof(refs) / sizeof(refs[0])); i++) {
				img_copy(g->w, g->seed);
				put64(entry(g->w, k) + 8, refs[i]);
				describe(g, "table entry %d (fd %u) file -> %s", k,
					 get32(entry(g->w, k)), what[i]);
				try_w(g, EBADMSG);
			}
		}
		/* ids in the gaps between records, if the writer left any */
		img_copy(g->w, g->seed);
		spread_ids(g->w);
		for (k = 0; k < n; k++) {
			p = entry(g->w, k);
			put64(p + 8, get64(p + 8) + 1);
			describe(g, "table entry %d file -> an id between two records", k);
			try_w(g, EBADMSG);
			put64(p + 8, get64(p + 8) - 1);
		}
	}
	/* the dup entry removed: its file is still referenced, the rest restores */
	img_copy(g->w, g->seed);
	k = entry_of_fd(g->w, FD_BASE + 1);
	p = pl(g->w, t);
	memmove(p + 8 + 16 * k, p + 8 + 16 * (k + 1), 16 * (n - k - 1));
	put32(p, n - 1);
	g->w->r[t].plen -= 16;
	describe(g, "table entry of fd %d (the dup) removed", FD_BASE + 1);
	try_w(g, 0);
	/* an entry whose file is referenced by no one else removed: that file is orphaned */
	img_copy(g->w, g->seed);
	k = entry_of_fd(g->w, FD_BASE + 3);
	p = pl(g->w, t);
	memmove(p + 8 + 16 * k, p + 8 + 16 * (k + 1), 16 * (n - k - 1));
	put32(p, n - 1);
	g->w->r[t].plen -= 16;
	describe(g, "table entry of fd %d removed (its FILE record unreferenced)", FD_BASE + 3);
	try_w(g, EBADMSG);
	/* an extra entry naming an existing file: a new dup */
	img_copy(g->w, g->seed);
	{
		uint8_t buf[16 * (NOFILE + 1) + 8];
		uint32_t plen = g->w->r[t].plen;

		memcpy(buf, pl(g->w, t), plen);
		put32(buf + plen, NOFILE - 2);
		put32(buf + plen + 4, 0);
		put64(buf + plen + 8, get64(buf + 8 + 16 * last + 8));
		put32(buf, n + 1);
		set_payload(g->w, t, buf, plen + 16);
		describe(g, "an entry fd %d added, naming fd %d's file", NOFILE - 2, FD_BASE + 5);
		try_w(g, 0);
	}
	/* the table's fds moved onto the caller's open ones: busy */
	for (k = 0; k < NOFILE; k++) {
		if (!g->base[k])
			continue;
		img_copy(g->w, g->seed);
		/* fd k is external in the seed already if it is in the table */
		if (entry_of_fd(g->w, k) >= 0)
			continue;
		if (k > (int)get32(entry(g->w, last - 1))) {
			put32(entry(g->w, last), k);
			describe(g, "fd %d -> %d (open in the caller)", FD_BASE + 5, k);
			try_w(g, EBUSY);
		}
	}
	/* random entries */
	split(g, scaled(250), 5, table_random);
	CHECK_DONE(IMAGES_FILE_TABLE_EXTREMES);
}

/* Replaces a FILE record's path (length-prefixed) with @path of @len bytes. */
static int set_path(struct img *m, int f, const char *path, size_t len)
{
	static uint8_t buf[2 * PATH_MAX + 256];
	uint8_t *p = pl(m, f);
	uint16_t old = get16(p + F_PATH);
	uint32_t tail = m->r[f].plen - (F_PATH + 2 + old);

	if (F_PATH + 2 + len + tail > sizeof(buf))
		return -1;
	memcpy(buf, p, F_PATH);
	put16(buf + F_PATH, len);
	memcpy(buf + F_PATH + 2, path, len);
	memcpy(buf + F_PATH + 2 + len, p + F_PATH + 2 + old, tail);
	return set_payload(m, f, buf, F_PATH + 2 + len + tail);
}

static uint64_t enc_dev(unsigned int ma, unsigned int mi)
{
	/* huge_encode_dev() = new_encode_dev() for 32-bit dev_t */
	return (mi & 0xff) | (ma & 0xfff) << 8 | (uint64_t)(mi & ~0xffU) << 12;
}

static void file_random(hostile_t *g, int i __attribute__((unused)))
{
	static const uint64_t vals[] = { 0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff,
					 0x7fffffff, 0x80000000, 0xffffffff,
					 INT64_MAX, (uint64_t)INT64_MIN, UINT64_MAX };
	static const int fds[] = { 0, 2, 3, 4, 5 };
	uint32_t at, w, b;
	uint64_t v;
	uint8_t *p;
	int f;

	img_copy(g->w, g->seed);
	f = file_of_fd(g->w, FD_BASE + fds[below(g, 5)]);
	p = pl(g->w, f);
	w = 1 << below(g, 4);
	at = below(g, g->w->r[f].plen - w + 1) & ~(w - 1);
	v = below(g, 2) ? vals[below(g, 13)] : rnd(g);
	for (b = 0; b < w; b++)
		p[at + b] = v >> (8 * b);
	describe(g, "FILE record %d: %u bytes at %u -> %#" PRIx64, f, w, at, v);
	try_w(g, ANY);
}

/* FILE records: kind, flags, mode, position, identity, content, paths, devices. */
TEST_F_TIMEOUT(hostile, file_record_fields, 600)
{
	hostile_t *g = self;
	int fr = file_of_fd(g->seed, FD_BASE), fdir = file_of_fd(g->seed, FD_BASE + 2);
	int fnull = file_of_fd(g->seed, FD_BASE + 3), fro = file_of_fd(g->seed, FD_BASE + 4);
	int frnd = file_of_fd(g->seed, FD_BASE + 5);
	int files[] = { fr, fdir, fnull, fro, frnd };
	char path[2 * PATH_MAX], created[160];
	struct stat st;
	int i, b, f;

	ASSERT_TRUE(fr >= 0 && fdir >= 0 && fnull >= 0 && fro >= 0 && frnd >= 0);
	ASSERT_EQ(K_REGULAR, get16(pl(g->seed, fr) + F_KIND));
	ASSERT_EQ(K_DIR, get16(pl(g->seed, fdir) + F_KIND));
	ASSERT_EQ(K_CHR, get16(pl(g->seed, fnull) + F_KIND));

	for (i = 0; i < 5; i++) {
		f = files[i];
		/* kinds: unknown ones are malformed, others change the tail's shape */
		for (int kind = 0; kind < 9; kind++) {
			uint16_t orig = get16(pl(g->seed, f) + F_KIND);

			if (kind == orig)
				continue;
			img_copy(g->w, g->seed);
			put16(pl(g->w, f) + F_KIND, kind == 8 ? 0xffff : kind);
			describe(g, "file %d kind %u -> %u", i, orig, get16(pl(g->w, f) + F_KIND));
			try_w(g, kind == 0 || kind > 6 ? EBADMSG : REFUSED);
		}
		img_copy(g->w, g->seed);
		put16(pl(g->w, f) + F_RES, 0x100);
		describe(g, "file %d reserved -> 0x100", i);
		try_w(g, EBADMSG);
		/* every f_flags bit: unknown ones (O_CREAT, O_TRUNC, O_PATH, O_EXCL...) refuse */
		for (b = 0; b < 32; b++) {
			uint32_t fl = get32(pl(g->seed, f) + F_FLAGS) ^ 1U << b;

			img_copy(g->w, g->seed);
			put32(pl(g->w, f) + F_FLAGS, fl);
			describe(g, "file %d f_flags bit %d toggled: %#o", i, b, fl);
			try_w(g, (fl & ~KNOWN_F_FLAGS) || (fl & O_ACCMODE) == O_ACCMODE ? EBADMSG :
			      ANY);
		}
		/* the file type in i_mode must match the kind */
		{
			static const uint32_t types[] = { 0, S_IFREG, S_IFDIR, S_IFCHR, S_IFBLK,
							  S_IFIFO, S_IFLNK, S_IFSOCK, 0170000 };
			uint32_t mode = get32(pl(g->seed, f) + F_MODE);

			for (b = 0; b < 9; b++) {
				if (types[b] == (mode & S_IFMT))
					continue;
				img_copy(g->w, g->seed);
				put32(pl(g->w, f) + F_MODE, (mode & ~S_IFMT) | types[b]);
				describe(g, "file %d mode %o -> %o", i, mode,
					 (mode & ~S_IFMT) | types[b]);
				try_w(g, EBADMSG);
			}
			img_copy(g->w, g->seed);
			put32(pl(g->w, f) + F_MODE, mode ^ 0777);
			describe(g, "file %d permission bits flipped", i);
			try_w(g, ANY);
		}
		/* positions */
		{
			static const int64_t pos[] = { -1, INT64_MIN, INT64_MAX, INT64_MAX - 1,
						       1000, 1001, 1LL << 40, 1LL << 62 };

			for (b = 0; b < 8; b++) {
				img_copy(g->w, g->seed);
				put64(pl(g->w, f) + F_POS, pos[b]);
				describe(g, "file %d pos -> %lld", i, (long long)pos[b]);
				/* a device's llseek may ignore any position */
				try_w(g, pos[b] < 0 && f != fnull && f != frnd ? REFUSED : ANY);
			}
		}
		/* identity and content: another inode is ESTALE */
		{
			static const int fields[] = { F_DEV, F_INO, F_SIZE, F_MTIME };
			static const char *const names[] = { "dev", "ino", "size", "mtime" };

			for (b = 0; b < 4; b++) {
				img_copy(g->w, g->seed);
				put64(pl(g->w, f) + fields[b], get64(pl(g->w, f) + fields[b]) + 1);
				describe(g, "file %d %s + 1", i, names[b]);
				/*
				 * A char device is identified by its rdev alone (its
				 * node's inode may change across reboots) and has no
				 * content to compare.
				 */
				try_w(g, f == fnull || f == frnd || (f == fdir && b == 2) ? ANY : ESTALE);
			}
			img_copy(g->w, g->seed);
			put32(pl(g->w, f) + F_MTIME_NS, 1000000000);
			describe(g, "file %d mtime_nsec 10^9", i);
			try_w(g, EBADMSG);
			img_copy(g->w, g->seed);
			put32(pl(g->w, f) + F_CTIME_NS, 0xffffffff);
			describe(g, "file %d ctime_nsec 0xffffffff", i);
			try_w(g, EBADMSG);
			img_copy(g->w, g->seed);
			put64(pl(g->w, f) + F_CTIME, 12345);
			describe(g, "file %d ctime changed", i);
			try_w(g, 0);	/* ctime is not compared */
			img_copy(g->w, g->seed);
			put32(pl(g->w, f) + F_FMODE, rnd(g));
			describe(g, "file %d f_mode random", i);
			try_w(g, ANY);
		}
	}

	/* paths: relative, empty, ".", "..", "//", trailing "/", NUL, too long */
	{
		const char *bad[] = { "", "data", "./data", "tmp/x", "/.", "/..", "//",
				      "%s/./data", "%s/../data", "%s//data", "%s/data/",
				      "%s/sub/..", "%s/.", "/%s/data", "%s/data/.",
				      "%s/sub/../data" };
		const char *okish[] = { "/", "%s/other", "%s/sub", "%s/nope", "%s/data/x",
					"%s/link", "%s/loop", "/dev/null", "/proc/self/fd/0",
					"/dev/zero", "%s/\xff\xfe" };

		for (i = 0; i < 5; i++) {
			f = files[i];
			for (b = 0; b < (int)(sizeof(bad) / sizeof(bad[0])); b++) {
				img_copy(g->w, g->seed);
				snprintf(path, sizeof(path), bad[b], g->dir);
				set_path(g->w, f, path, strlen(path));
				describe(g, "file %d path \"%s\"", i, path);
				try_w(g, EBADMSG);
			}
			for (b = 0; b < (int)(sizeof(okish) / sizeof(okish[0])); b++) {
				img_copy(g->w, g->seed);
				snprintf(path, sizeof(path), okish[b], g->dir);
				set_path(g->w, f, path, strlen(path));
				describe(g, "file %d path \"%s\"", i, path);
				try_w(g, ANY);
			}
			/* an embedded NUL: the kernel must not stop reading the path there */
			img_copy(g->w, g->seed);
			snprintf(path, sizeof(path), "%s/data", g->dir);
			set_path(g->w, f, path, strlen(path) + 1);
			describe(g, "file %d path \"%s\\0\" (NUL included)", i, path);
			try_w(g, EBADMSG);
			img_copy(g->w, g->seed);
			memcpy(path + strlen(path), "\0/x", 4);
			set_path(g->w, f, path, strlen(g->dir) + 8);
			describe(g, "file %d path \"%s\\0/x\"", i, g->dir);
			try_w(g, EBADMSG);
			/* PATH_MAX + 1 bytes (canonical otherwise), PATH_MAX, 0xffff */
			for (b = 0; b < 3; b++) {
				size_t len = b == 0 ? PATH_MAX + 1 : b == 1 ? PATH_MAX : 8000;

				for (size_t c = 0; c < len; c++)
					path[c] = c % 200 == 0 ? '/' : 'p';
				if (path[len - 1] == '/')
					path[len - 1] = 'q';
				img_copy(g->w, g->seed);
				set_path(g->w, f, path, len);
				describe(g, "file %d path of %zu bytes", i, len);
				try_w(g, len > PATH_MAX ? EBADMSG : REFUSED);
			}
			/* a single component longer than NAME_MAX */
			path[0] = '/';
			memset(path + 1, 'n', 300);
			img_copy(g->w, g->seed);
			set_path(g->w, f, path, 301);
			describe(g, "file %d path of one 300-byte component", i);
			try_w(g, REFUSED);
			/* the length prefix lies: longer or shorter than the record */
			for (b = 0; b < 4; b++) {
				static const uint16_t lens[] = { 0, 1, 0x7fff, 0xffff };

				img_copy(g->w, g->seed);
				put16(pl(g->w, f) + F_PATH, lens[b]);
				describe(g, "file %d path length -> %u", i, lens[b]);
				try_w(g, EBADMSG);
			}
		}
	}

	/*
	 * Char devices: only null, zero, full, random and urandom reopen. Others
	 * (sda 8:0, tty1 4:1, mem 1:1, kmem 1:2, port 1:4, kmsg 1:11, misc 10:x)
	 * must be refused as malformed before anything is opened: the regular
	 * file's path is made to not exist, so opening in record order first
	 * would report ENOENT instead.
	 */
	{
		static const unsigned int devs[][2] = { { 8, 0 }, { 4, 1 }, { 1, 1 }, { 1, 2 },
							{ 1, 4 }, { 1, 11 }, { 10, 200 },
							{ 5, 0 }, { 0, 0 }, { 4095, 0xfffff } };
		static const char *const paths[] = { "/dev/sda", "/dev/tty1", "/dev/mem",
						     "/dev/kmem", "/dev/port", "/dev/kmsg",
						     "/dev/net/tun", "/dev/tty", "/dev/null",
						     "/dev/null" };
		uint8_t *p;

		for (i = 0; i < (int)(sizeof(devs) / sizeof(devs[0])); i++) {
			for (int gone = 0; gone < 2; gone++) {
				img_copy(g->w, g->seed);
				p = pl(g->w, fnull);
				put64(p + p[F_PATH] + (p[F_PATH + 1] << 8) + F_PATH + 2,
				      enc_dev(devs[i][0], devs[i][1]));
				set_path(g->w, fnull, paths[i], strlen(paths[i]));
				if (gone) {
					snprintf(path, sizeof(path), "%s/gone", g->dir);
					set_path(g->w, fr, path, strlen(path));
				}
				describe(g, "char device rdev -> %u:%u path %s%s", devs[i][0],
					 devs[i][1], paths[i],
					 gone ? ", and fd 20's file missing" : "");
				try_w(g, EBADMSG);
			}
		}
		/* an allowlisted rdev that is not the device at the path: replaced */
		img_copy(g->w, g->seed);
		p = pl(g->w, fnull);
		put64(p + get16(p + F_PATH) + F_PATH + 2, enc_dev(1, 5));
		describe(g, "char device /dev/null recorded as rdev 1:5");
		try_w(g, ESTALE);
		/* rdev 64-bit garbage */
		img_copy(g->w, g->seed);
		p = pl(g->w, fnull);
		put64(p + get16(p + F_PATH) + F_PATH + 2, UINT64_MAX);
		describe(g, "char device rdev -> ~0");
		try_w(g, EBADMSG);
	}

	/* O_CREAT / O_TRUNC never act: refused before any open, nothing created */
	snprintf(created, sizeof(created), "%s/created", g->dir);
	for (b = 0; b < 4; b++) {
		static const int fl[] = { O_CREAT, O_TRUNC, O_CREAT | O_EXCL, O_PATH };

		img_copy(g->w, g->seed);
		set_path(g->w, fr, b ? g->data : created, strlen(b ? g->data : created));
		put32(pl(g->w, fr) + F_FLAGS, get32(pl(g->w, fr) + F_FLAGS) | fl[b]);
		describe(g, "fd 20 f_flags |= %#o", fl[b]);
		try_w(g, EBADMSG);
		EXPECT_NE(0, stat(created, &st));
	}

	/* directory hash cookie mode: 32 or 64 */
	{
		uint8_t *p;
		static const uint32_t cookies[] = { 0, 1, 31, 33, 63, 65, 0xffffffff };

		for (b = 0; b < 7; b++) {
			img_copy(g->w, g->seed);
			p = pl(g->w, fdir);
			put32(p + F_PATH + 2 + get16(p + F_PATH), cookies[b]);
			describe(g, "directory cookie mode -> %u", cookies[b]);
			try_w(g, EBADMSG);
		}
	}

	/* random fields of random FILE records */
	split(g, scaled(400), 6, file_random);
	CHECK_DONE(IMAGES_FILE_RECORD_FIELDS);
}

/* Inserts an unknown record before record @at with an id that fits between its neighbours. */
static int add_unknown(hostile_t *g, struct img *m, int at, uint16_t type, uint16_t flags, uint32_t len)
{
	static uint8_t buf[1 << 17];
	uint64_t id = at > 0 ? m->r[at - 1].id + 1 : 1;

	if (len > sizeof(buf))
		return -1;
	for (uint32_t i = 0; i < len; i++)
		buf[i] = rnd(g);
	return insert_rec(m, at, type, flags, id, buf, len);
}

static void structure_random(hostile_t *g, int i __attribute__((unused)))
{
	int k;

	img_copy(g->w, g->seed);
	spread_ids(g->w);
	k = 1 + below(g, g->w->n - 1);
	switch (below(g, 3)) {
	case 0:
		remove_rec(g->w, k);
		describe(g, "record %d removed", k);
		break;
	case 1:
		insert_rec(g->w, k + 1, g->w->r[k].type, g->w->r[k].flags, g->w->r[k].id + 1,
			   pl(g->w, k), g->w->r[k].plen);
		describe(g, "record %d duplicated", k);
		break;
	default:
		g->w->r[k].type = (uint16_t[]){ T_ENV, T_TASKVEC, T_TASK, T_TABLE, T_FILE }[below(g, 5)];
		describe(g, "record %d retyped %#x", k, g->w->r[k].type);
	}
	try_w(g, ANY);
}

/* Records added, removed, duplicated, reordered; unknown optional and critical ones. */
TEST_F_TIMEOUT(hostile, structure, 600)
{
	hostile_t *g = self;
	int env, task, tv, table, i, at, k;
	uint8_t buf[4096];

	env = find_type(g->seed, T_ENV, 0);
	task = find_type(g->seed, T_TASK, 0);
	tv = find_type(g->seed, T_TASKVEC, 0);
	table = find_type(g->seed, T_TABLE, 0);
	ASSERT_EQ(0, env);
	ASSERT_GT(task, 0);
	ASSERT_GT(table, 0);
	ASSERT_GT(tv, 0);
	ASSERT_EQ(task + 1, tv);

	rng_for(g, 7, 1 << 20);
	/*
	 * unknown optional records are skipped wherever they are (after the env
	 * vector)
	 */
	{
		const uint16_t *types = unassigned_types;
		static const uint32_t lens[] = { 0, 1, 7, 4096, 100000 };

		for (at = 1; at <= g->seed->n; at++) {
			for (k = 0; k < NR_UNASSIGNED; k++) {
				uint32_t len = lens[(at + k) % 5];
				uint16_t fl = k & 1 ? 0 : 0xfffe;	/* any bit but CRITICAL */

				img_copy(g->w, g->seed);
				spread_ids(g->w);
				add_unknown(g, g->w, at, types[k], fl, len);
				describe(g, "unknown type %#x flags %#x len %u inserted at %d",
					 types[k], fl, len, at);
				/* not between a task and its vector, which must follow it */
				try_w(g, at == tv ? EBADMSG : 0);

				img_copy(g->w, g->seed);
				spread_ids(g->w);
				add_unknown(g, g->w, at, types[k], fl | 1, len);
				describe(g, "unknown CRITICAL type %#x flags %#x len %u inserted at %d",
					 types[k], fl | 1, len, at);
				try_w(g, EBADMSG);
			}
		}
		/* several of them in a row, before the terminator */
		img_copy(g->w, g->seed);
		spread_ids(g->w);
		for (k = 0; k < NR_UNASSIGNED; k++)
			add_unknown(g, g->w, g->w->n, unassigned_types[k], 0, below(g, 300));
		describe(g, "%d unknown optional records at the end", NR_UNASSIGNED);
		try_w(g, 0);
		/* before the env vector, which must be first */
		img_copy(g->w, g->seed);
		spread_ids(g->w);
		insert_rec(g->w, 0, UNKNOWN_TYPE, 0, 1, buf, 8);
		describe(g, "unknown optional record before the env vector");
		try_w(g, REFUSED);
		/* an unknown record with an id out of order */
		img_copy(g->w, g->seed);
		spread_ids(g->w);
		insert_rec(g->w, g->w->n, UNKNOWN_TYPE, 0, g->w->r[0].id, buf, 8);
		describe(g, "unknown optional record reusing the env vector's id");
		try_w(g, EBADMSG);
		img_copy(g->w, g->seed);
		spread_ids(g->w);
		insert_rec(g->w, g->w->n, UNKNOWN_TYPE, 0, 0, buf, 8);
		describe(g, "unknown optional record with id 0");
		try_w(g, EBADMSG);
	}

	/* a second TASK (with its task vector) naming the same table: several tasks */
	for (int fix = 1; fix >= 0; fix--) {
		size_t len;

		img_copy(g->w, g->seed);
		spread_ids(g->w);
		k = g->w->n;
		insert_rec(g->w, k, T_TASK, 1, g->w->r[k - 1].id + 1, pl(g->w, task),
			   g->w->r[task].plen);
		insert_rec(g->w, k + 1, T_TASKVEC, 1, g->w->r[k - 1].id + 2, pl(g->w, tv),
			   g->w->r[tv].plen);
		put64(pl(g->w, k + 1), g->w->r[k].id);
		len = serialize(g->w, g->out, OUT_SIZE);
		if (!fix)
			g->out[len - 1] ^= 0x40;
		g->iter++;
		describe(g, "a second TASK and task vector%s", fix ? "" : ", checksum wrong");
		/* a corrupt image is corrupt before it is unsupported */
		attempt(g, g->out, len, VIA_FILE, fix ? EOPNOTSUPP : EBADMSG);
		attempt(g, g->out, len, VIA_PIPE, fix ? EOPNOTSUPP : EBADMSG);
	}
	/* the second task without a vector, or with no file table */
	img_copy(g->w, g->seed);
	spread_ids(g->w);
	insert_rec(g->w, g->w->n, T_TASK, 1, g->w->r[g->w->n - 1].id + 1, pl(g->w, task),
		   g->w->r[task].plen);
	put64(pl(g->w, g->w->n - 1) + 64, 0);
	describe(g, "a second TASK without a file table");
	try_w(g, REFUSED);

	/* no FILE_TABLE at all (the task still names it), or the task names none */
	img_copy(g->w, g->seed);
	remove_rec(g->w, table);
	describe(g, "FILE_TABLE removed");
	try_w(g, EBADMSG);
	img_copy(g->w, g->seed);
	remove_rec(g->w, table);
	put64(pl(g->w, find_type(g->w, T_TASK, 0)) + 64, 0);
	describe(g, "FILE_TABLE removed, task file_table 0");
	try_w(g, EBADMSG);
	img_copy(g->w, g->seed);
	put64(pl(g->w, task) + 64, 0);
	describe(g, "task file_table -> 0 (the table unreferenced)");
	try_w(g, EBADMSG);
	img_copy(g->w, g->seed);
	spread_ids(g->w);
	put64(pl(g->w, task) + 64, get64(pl(g->w, task) + 64) + 1);
	describe(g, "task file_table -> a missing id");
	try_w(g, EBADMSG);
	img_copy(g->w, g->seed);
	put64(pl(g->w, task) + 64, g->w->r[0].id);
	describe(g, "task file_table -> the env vector");
	try_w(g, EBADMSG);
	img_copy(g->w, g->seed);
	put64(pl(g->w, task) + 64, UINT64_MAX);
	describe(g, "task file_table -> UINT64_MAX");
	try_w(g, EBADMSG);
	/* a second file table */
	img_copy(g->w, g->seed);
	spread_ids(g->w);
	insert_rec(g->w, table + 1, T_TABLE, 1, g->w->r[table].id + 1, pl(g->w, table),
		   g->w->r[table].plen);
	describe(g, "a second FILE_TABLE");
	try_w(g, EBADMSG);
	/* no task; no task vector; no env vector; two env vectors */
	img_copy(g->w, g->seed);
	remove_rec(g->w, tv);
	remove_rec(g->w, task);
	describe(g, "TASK and task vector removed");
	try_w(g, EBADMSG);
	img_copy(g->w, g->seed);
	remove_rec(g->w, tv);
	describe(g, "task vector removed");
	try_w(g, ANY);
	img_copy(g->w, g->seed);
	remove_rec(g->w, task);
	describe(g, "TASK removed (its vector orphaned)");
	try_w(g, EBADMSG);
	img_copy(g->w, g->seed);
	remove_rec(g->w, env);
	describe(g, "env vector removed");
	try_w(g, EBADMSG);
	img_copy(g->w, g->seed);
	spread_ids(g->w);
	insert_rec(g->w, 1, T_ENV, 1, g->w->r[0].id + 1, pl(g->w, 0), g->w->r[0].plen);
	describe(g, "env vector twice");
	try_w(g, EBADMSG);
	/* the task vector not right after its task, or naming another */
	img_copy(g->w, g->seed);
	put64(pl(g->w, tv), g->w->r[table].id);
	describe(g, "task vector names the file table");
	try_w(g, EBADMSG);
	/* each FILE record removed: its table entries dangle */
	for (i = 1; i < g->seed->n; i++) {
		if (g->seed->r[i].type != T_FILE)
			continue;
		img_copy(g->w, g->seed);
		remove_rec(g->w, i);
		describe(g, "FILE record %d removed", i);
		try_w(g, EBADMSG);
		/* a FILE record duplicated, unreferenced */
		img_copy(g->w, g->seed);
		spread_ids(g->w);
		insert_rec(g->w, i + 1, T_FILE, 1, g->w->r[i].id + 1, pl(g->w, i), g->w->r[i].plen);
		describe(g, "FILE record %d duplicated (not in the table)", i);
		try_w(g, EBADMSG);
	}
	/* the table moved before its files: references point forward */
	img_copy(g->w, g->seed);
	{
		struct rec t = g->w->r[table];

		remove_rec(g->w, table);
		g->w->n++;
		memmove(&g->w->r[2], &g->w->r[1], sizeof(t) * (g->w->n - 2));
		g->w->r[1] = t;
		describe(g, "FILE_TABLE moved before the FILE records");
		try_w(g, EBADMSG);
	}
	/* records swapped pairwise: ids decrease */
	for (i = 1; i + 1 < g->seed->n; i++) {
		struct rec t;

		img_copy(g->w, g->seed);
		t = g->w->r[i];
		g->w->r[i] = g->w->r[i + 1];
		g->w->r[i + 1] = t;
		describe(g, "records %d and %d swapped", i, i + 1);
		try_w(g, EBADMSG);
	}
	/* random records dropped, duplicated or retyped, with a correct terminator */
	split(g, scaled(200), 7, structure_random);
	CHECK_DONE(IMAGES_STRUCTURE);
}

static void task_random(hostile_t *g, int i __attribute__((unused)))
{
	static const uint32_t vals[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 0x1000, 0x1001,
					 0xffff, 0x10000, 0x7fffffff, 0xffffffff };
	int task = find_type(g->seed, T_TASK, 0), r;
	uint32_t at;
	uint8_t *p;

	img_copy(g->w, g->seed);
	r = below(g, 3) ? task + 1 : below(g, 2) ? task : 0;	/* task vector, task, env */
	p = pl(g->w, r);
	at = below(g, g->w->r[r].plen - 3);
	put32(p + at, below(g, 2) ? vals[below(g, 15)] : (uint32_t)rnd(g));
	describe(g, "record %d (type %#x): 4 bytes at %u -> %#x", r, g->w->r[r].type, at,
		 get32(p + at));
	try_w(g, ANY);
}

/*
 * The task record: cwd and root paths and ids are not what restart acts on,
 * but they are parsed and must not crash it; the env and task vectors: every
 * entry's fields.
 */
TEST_F_TIMEOUT(hostile, task_and_vectors, 600)
{
	hostile_t *g = self;
	int task = find_type(g->seed, T_TASK, 0), i;

	split(g, scaled(300), 8, task_random);
	/* cwd and root with bad lengths */
	for (i = 0; i < 4; i++) {
		static const uint16_t lens[] = { 0, 0x1001, 0x7fff, 0xffff };

		img_copy(g->w, g->seed);
		put16(pl(g->w, task) + 72, lens[i]);
		describe(g, "task cwd length -> %u", lens[i]);
		try_w(g, REFUSED);
	}
	CHECK_DONE(IMAGES_TASK_AND_VECTORS);
}

/*
 * Size limits. An image over CKPT_RESTART_MAX_IMAGE (64 MiB) through a pipe is
 * EFBIG once the limit is crossed (the writer then gets EPIPE); a single
 * unknown optional record of the maximum record length is skipped.
 */
TEST_F_TIMEOUT(hostile, oversized, 600)
{
	hostile_t *g = self;
	uint32_t env_len = RHDR_LEN + g->seed->r[0].plen;
	uint8_t hdr[RHDR_LEN], *big;
	struct outcome o;
	int p[2], st, k;
	pid_t pid;
	size_t len;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		static uint8_t zero[1 << 16];

		signal(SIGPIPE, SIG_IGN);
		close(p[0]);
		if (write_all(p[1], g->seed_bytes, HDR_LEN + env_len) < 0)
			_exit(1);
		/* unknown optional records of the maximum length, without end */
		for (k = 0; k < 6; k++) {
			put16(hdr, UNKNOWN_TYPE);
			put16(hdr + 2, 0);
			put32(hdr + 4, RECORD_MAX_LEN);
			put64(hdr + 8, g->seed->r[0].id + 1 + k);
			if (write_all(p[1], hdr, sizeof(hdr)) < 0)
				_exit(0);
			for (uint32_t w = 0, c; w < RECORD_MAX_LEN - RHDR_LEN; w += c) {
				c = RECORD_MAX_LEN - RHDR_LEN - w;
				if (c > sizeof(zero))
					c = sizeof(zero);
				if (write_all(p[1], zero, c) < 0)
					_exit(0);
			}
		}
		_exit(2);
	}
	close(p[1]);
	memset(&o, 0, sizeof(o));
	o.a.fd = p[0];
	o.a.log_buf = (__u64)(unsigned long)o.log;
	o.a.log_size = sizeof(o.log);
	g->attempts++;
	__atomic_add_fetch(g->images, 1, __ATOMIC_RELAXED);
	EXPECT_EQ(-1, ioctl(g->dev, CKPT_IOC_RESTART, &o.a));
	EXPECT_EQ(EFBIG, errno) TH_LOG("%s", o.log);
	EXPECT_EQ((__u32)CKPT_REASON_TOO_LARGE, o.a.reason);
	EXPECT_LE(o.a.bytes, (__u64)CKPT_RESTART_MAX_IMAGE);
	close(p[0]);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("writer status %#x", st);
	deep_check(g, &o, VIA_FORK);

	/* one unknown optional record of exactly RECORD_MAX_LEN: skipped */
	big = malloc(g->seed_len + RECORD_MAX_LEN + 64);
	ASSERT_NE(NULL, big);
	img_copy(g->w, g->seed);
	spread_ids(g->w);
	len = serialize(g->w, big, g->seed_len + RECORD_MAX_LEN + 64);
	ASSERT_NE(0UL, len);
	/* splice it in before the terminator by hand: the pool is smaller than it */
	memmove(big + len - TERM_LEN + RECORD_MAX_LEN, big + len - TERM_LEN, TERM_LEN);
	{
		uint8_t *r = big + len - TERM_LEN, *t;

		put16(r, UNKNOWN_TYPE);
		put16(r + 2, 0);
		put32(r + 4, RECORD_MAX_LEN);
		put64(r + 8, g->w->r[g->w->n - 1].id + 1);
		memset(r + RHDR_LEN, 0x5a, RECORD_MAX_LEN - RHDR_LEN);
		len += RECORD_MAX_LEN;
		t = big + len - TERM_LEN;
		put64(t + 16, g->w->n + 1);
		put64(t + 24, len - TERM_LEN);
		reseal(big, len);
		describe(g, "one unknown optional record of %u bytes", RECORD_MAX_LEN);
		g->iter++;
		attempt_now(g, big, len, VIA_FORK, 0);
		/* one byte more is over the record limit */
		put32(r + 4, RECORD_MAX_LEN + 1);
		memmove(t + 1, t, TERM_LEN);
		len++;
		put64(t + 1 + 24, len - TERM_LEN);
		reseal(big, len);
		describe(g, "one unknown optional record of %u bytes", RECORD_MAX_LEN + 1);
		g->iter++;
		attempt_now(g, big, len, VIA_FILE, EBADMSG);
	}
	free(big);
	CHECK_DONE(IMAGES_OVERSIZED);
}

/* The value of environment entry @key in vector payload @p (@len bytes); NULL if none. */
static uint8_t *env_entry(uint8_t *p, uint32_t len, uint32_t key, uint16_t *flags, uint32_t *vlen)
{
	uint32_t n = get32(p), off = 8, k;

	for (k = 0; k < n && off + 12 <= len; k++) {
		*vlen = get32(p + off + 8);
		if (get32(p + off) == key) {
			*flags = get16(p + off + 6);
			return off + 12 + *vlen <= len ? p + off + 12 : NULL;
		}
		off += 12 + *vlen;
	}
	return NULL;
}

#define KEY_CPU_VENDOR	0x00010001u
#define KEY_CPU_FAMILY	0x00010002u
#define CKPT_IOC_RESTART_SIZED(size) _IOC(_IOC_READ | _IOC_WRITE, CKPT_IOC_MAGIC, 0x03, (size))

/* Restart of the seed from the image file with a struct of @size bytes at @arg; the fd table is checked. */
static int sized_restart(hostile_t *g, struct __test_metadata *_metadata, void *arg, size_t size, int *err)
{
	bool now[NOFILE];
	int rc, fd;

	ftruncate(g->img_fd, 0);
	pwrite(g->img_fd, g->seed_bytes, g->seed_len, 0);
	lseek(g->img_fd, 0, SEEK_SET);
	errno = 0;
	rc = ioctl(g->dev, CKPT_IOC_RESTART_SIZED(size), arg);
	*err = rc ? errno : 0;
	fds_now(now);
	for (fd = 0; fd < NOFILE; fd++) {
		if (rc) {
			EXPECT_EQ(g->base[fd], now[fd]) TH_LOG("size %zu refused, fd %d changed", size, fd);
		}
	}
	if (rc) {
		EXPECT_EQ(0, lseek(g->img_fd, 0, SEEK_CUR)) TH_LOG("size %zu: image read", size);
	}
	close_new(g, now);
	return rc;
}

/*
 * The flags and the argument struct: unknown flags, a struct shorter than
 * CKPT_RESTART_SIZE_VER0, a longer one with a non-zero tail (all refused
 * before a byte of the image is read, nothing installed), a bad image fd; and
 * CKPT_RESTART_ACCEPT_ADVISORY, with an advisory and a critical environment
 * mismatch made into the seed (the checksum recomputed).
 */
TEST_F_TIMEOUT(hostile, flags_and_arguments, 600)
{
	hostile_t *g = self;
	struct { struct ckpt_restart a; uint8_t tail[64]; } big;
	uint32_t vlen, env_len;
	struct outcome o;
	uint16_t fl;
	uint8_t *v;
	size_t len;
	int bit, err, wo;
	unsigned int size;

	/* unknown flags: EINVAL, BAD_ARGUMENT, nothing read */
	for (bit = 3; bit < 64; bit++) {
		if ((1ULL << bit) & CKPT_RESTART_PROCESS_FLAGS)
			continue; /* known: judged below */
		g->iter++;
		describe(g, "flag bit %d", bit);
		run_restart(g, g->seed_bytes, g->seed_len, VIA_FILE, 1ULL << bit, &o);
		judge(g, g->seed_bytes, g->seed_len, VIA_FILE, EINVAL, &o);
		EXPECT_EQ((__u32)CKPT_REASON_BAD_ARGUMENT, o.a.reason) TH_LOG("flag bit %d", bit);
		EXPECT_EQ(0ULL, o.a.bytes) TH_LOG("flag bit %d: image read", bit);
		EXPECT_EQ(0, lseek(g->img_fd, 0, SEEK_CUR));
	}
	/* AS_CALLER alone: EINVAL, BAD_ARGUMENT, nothing read */
	g->iter++;
	describe(g, "CKPT_RESTART_AS_CALLER without CKPT_RESTART_PROCESS");
	run_restart(g, g->seed_bytes, g->seed_len, VIA_FILE, CKPT_RESTART_AS_CALLER, &o);
	judge(g, g->seed_bytes, g->seed_len, VIA_FILE, EINVAL, &o);
	EXPECT_EQ((__u32)CKPT_REASON_BAD_ARGUMENT, o.a.reason);
	EXPECT_EQ(0ULL, o.a.bytes);
	EXPECT_EQ(0, lseek(g->img_fd, 0, SEEK_CUR));
	/* a process restart of a file-table image: EBADMSG, BAD_IMAGE, caller untouched */
	g->iter++;
	describe(g, "CKPT_RESTART_PROCESS with a file-table image");
	run_restart(g, g->seed_bytes, g->seed_len, VIA_FILE, CKPT_RESTART_PROCESS, &o);
	judge(g, g->seed_bytes, g->seed_len, VIA_FILE, EBADMSG, &o);
	EXPECT_EQ((__u32)CKPT_REASON_BAD_IMAGE, o.a.reason);
	/* a short struct: EINVAL */
	for (size = 0; size < CKPT_RESTART_SIZE_VER0; size++) {
		memset(&big, 0, sizeof(big));
		big.a.fd = g->img_fd;
		EXPECT_EQ(-1, sized_restart(g, _metadata, &big, size, &err)) TH_LOG("size %u", size);
		EXPECT_EQ(EINVAL, err) TH_LOG("size %u", size);
	}
	/* a longer struct: a non-zero byte past the known fields is E2BIG */
	for (size = 0; size < sizeof(big.tail); size += 5) {
		memset(&big, 0, sizeof(big));
		big.a.fd = g->img_fd;
		big.tail[size] = 0x80;
		EXPECT_EQ(-1, sized_restart(g, _metadata, &big, sizeof(big), &err))
			TH_LOG("tail byte %u", size);
		EXPECT_EQ(E2BIG, err) TH_LOG("tail byte %u", size);
	}
	/* an all-zero tail restores; the tail stays zero, what lies beyond is not touched */
	memset(&big, 0x5a, sizeof(big));
	memset(&big, 0, sizeof(big.a) + 32);
	big.a.fd = g->img_fd;
	EXPECT_EQ(0, sized_restart(g, _metadata, &big, sizeof(big.a) + 32, &err)) TH_LOG("errno %d", err);
	EXPECT_EQ((__u32)NR_SEED_FDS, big.a.nr_fds);
	for (size = 0; size < sizeof(big.tail); size++) {
		EXPECT_EQ(size < 32 ? 0 : 0x5a, big.tail[size]) TH_LOG("tail byte %u", size);
	}
	/* the image fd: not open, or not open for reading */
	memset(&big, 0, sizeof(big));
	big.a.fd = NOFILE - 1;
	EXPECT_EQ(-1, sized_restart(g, _metadata, &big, sizeof(big.a), &err));
	EXPECT_EQ(EBADF, err);
	EXPECT_EQ((__u32)CKPT_REASON_BAD_ARGUMENT, big.a.reason);
	wo = open(g->data, O_WRONLY | O_CLOEXEC);
	ASSERT_GE(wo, 0);
	memset(&big, 0, sizeof(big));
	big.a.fd = wo;
	EXPECT_EQ(-1, ioctl(g->dev, CKPT_IOC_RESTART, &big.a));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ((__u32)CKPT_REASON_BAD_ARGUMENT, big.a.reason);
	close(wo);

	/* an advisory mismatch: cpu_family (equal, not critical) one more than here */
	img_copy(g->w, g->seed);
	env_len = g->w->r[0].plen;
	v = env_entry(pl(g->w, 0), env_len, KEY_CPU_FAMILY, &fl, &vlen);
	ASSERT_TRUE(v && vlen == 4) TH_LOG("the seed has no cpu_family entry");
	ASSERT_EQ(0, fl & 1) TH_LOG("cpu_family is critical: not an advisory entry");
	put32(v, get32(v) + 1);
	len = serialize(g->w, g->out, OUT_SIZE);
	ASSERT_NE(0UL, len);
	describe(g, "cpu_family + 1 (advisory mismatch)");
	g->iter++;
	run_restart(g, g->out, len, VIA_FILE, 0, &o);
	judge(g, g->out, len, VIA_FILE, ENOEXEC, &o);
	EXPECT_EQ((__u32)CKPT_REASON_ENV_MISMATCH, o.a.reason);
	EXPECT_NE(NULL, strstr(o.log, "0 critical, 1 advisory")) TH_LOG("log: %s", o.log);
	g->iter++;
	run_restart(g, g->out, len, VIA_PIPE, CKPT_RESTART_IGNORE_CONTENT | CKPT_RESTART_REPLACE_FDS, &o);
	judge(g, g->out, len, VIA_PIPE, ENOEXEC, &o);
	g->iter++;
	run_restart(g, g->out, len, VIA_FILE, CKPT_RESTART_ACCEPT_ADVISORY, &o);
	judge(g, g->out, len, VIA_FILE, 0, &o);
	g->iter++;
	run_restart(g, g->out, len, VIA_PIPE, CKPT_RESTART_FLAGS_ALL, &o);
	judge(g, g->out, len, VIA_PIPE, 0, &o);

	/* a critical one as well (cpu_vendor, one byte changed): refused even so */
	v = env_entry(pl(g->w, 0), env_len, KEY_CPU_VENDOR, &fl, &vlen);
	ASSERT_TRUE(v && vlen > 0) TH_LOG("the seed has no cpu_vendor entry");
	ASSERT_EQ(1, fl & 1) TH_LOG("cpu_vendor is not critical");
	v[0] ^= 0x20;
	len = serialize(g->w, g->out, OUT_SIZE);
	describe(g, "cpu_family + 1, cpu_vendor changed (critical)");
	g->iter++;
	run_restart(g, g->out, len, VIA_FILE, CKPT_RESTART_ACCEPT_ADVISORY, &o);
	judge(g, g->out, len, VIA_FILE, ENOEXEC, &o);
	EXPECT_EQ((__u32)CKPT_REASON_ENV_MISMATCH, o.a.reason);
	EXPECT_NE(NULL, strstr(o.log, "1 critical, 1 advisory")) TH_LOG("log: %s", o.log);
	CHECK_DONE(IMAGES_FLAGS_AND_ARGUMENTS);
}

/*
 * SIGNALS (0x12) and TASK_STATE (0x13) records after the task vector: a
 * restart of the file table skips valid ones (optional records), and refuses
 * with EBADMSG every one the kernel could not have written
 * (Documentation/image-format.rst, "Process state: signals and task state").
 */
#define T_SIGNALS	0x0012
#define T_TASK_STATE	0x0013
#define SIGNALS_LEN	(32 + 64 * 32)
#define TASK_STATE_LEN	(56 + 16 * 16)
#define IMAGES_SIGNAL_AND_TASK_STATE	26

static void valid_signals(uint8_t *p)
{
	memset(p, 0, SIGNALS_LEN);
	put64(p, 1ULL << 9);		/* SIGUSR2 blocked */
	put32(p + 24, 2);		/* SS_DISABLE */
	put32(p + 28, 64);
	put64(p + 32 + 9 * 32, 0x401000);	/* a SIGUSR1 handler */
	put64(p + 32 + 12 * 32, 1);	/* SIGPIPE ignored */
}

static void valid_task_state(uint8_t *p)
{
	memset(p, 0, TASK_STATE_LEN);
	put64(p, 0x7f0000001000);	/* rseq */
	put32(p + 8, 32);
	put32(p + 12, 0x53053053);
	put64(p + 16, 0x7f0000002000);	/* robust list */
	put64(p + 24, 24);
	put32(p + 40, 022);
	put32(p + 48, 16);
	for (int r = 0; r < 16; r++) {
		put64(p + 56 + r * 16, r == 7 ? 1024 : ~0ULL);
		put64(p + 64 + r * 16, r == 7 ? 4096 : ~0ULL);
	}
}

/* The seed with @p (@len bytes) as a record of @type and @flags after the task vector. */
static void with_state_record(hostile_t *g, uint16_t type, uint16_t flags, const uint8_t *p,
			      uint32_t len)
{
	int tv = find_type(g->seed, T_TASKVEC, 0);

	img_copy(g->w, g->seed);
	spread_ids(g->w);
	insert_rec(g->w, tv + 1, type, flags, g->w->r[tv].id + 1, p, len);
}

TEST_F_TIMEOUT(hostile, signal_and_task_state_records, 600)
{
	hostile_t *g = self;
	uint8_t sig[SIGNALS_LEN + 1], st[TASK_STATE_LEN + 1];
	static const struct {
		const char *what;
		int at, size;
		uint64_t v;
	} bad_sig[] = {
		{ "SIGKILL blocked", 0, 8, (1ULL << 9) | (1ULL << 8) },
		{ "SIGSTOP blocked", 0, 8, 1ULL << 18 },
		{ "SS_ONSTACK", 24, 4, 3 },
		{ "disabled altstack with a size", 16, 8, 4096 },
		{ "disabled altstack with an sp", 8, 8, 0x7f0000000000 },
		{ "63 signals", 28, 4, 63 },
		{ "a SIGKILL handler", 32 + 8 * 32, 8, 0x401000 },
		{ "SIGSTOP ignored", 32 + 18 * 32, 8, 1 },
		{ "an action masking SIGSTOP", 32 + 9 * 32 + 24, 8, 1ULL << 18 },
	}, bad_st[] = {
		{ "no rseq but a length", 0, 8, 0 },
		{ "rseq of 31 bytes", 8, 4, 31 },
		{ "robust list without length", 24, 8, 0 },
		{ "umask 01000", 40, 4, 01000 },
		{ "pdeath signal 65", 44, 4, 65 },
		{ "15 rlimits", 48, 4, 15 },
		{ "reserved", 52, 4, 1 },
		{ "soft above hard", 56 + 7 * 16, 8, 8192 },
	};
	size_t i;

	/* valid: skipped by a file table restart */
	valid_signals(sig);
	valid_task_state(st);
	with_state_record(g, T_SIGNALS, 0, sig, SIGNALS_LEN);
	insert_rec(g->w, find_type(g->w, T_SIGNALS, 0) + 1, T_TASK_STATE, 0,
		   g->w->r[find_type(g->w, T_SIGNALS, 0)].id + 1, st, TASK_STATE_LEN);
	describe(g, "valid SIGNALS and TASK_STATE records");
	try_w(g, 0);
	/* known types: flags other than 0 are corruption */
	with_state_record(g, T_SIGNALS, 1, sig, SIGNALS_LEN);
	describe(g, "SIGNALS flagged CRITICAL");
	try_w(g, EBADMSG);
	with_state_record(g, T_TASK_STATE, 2, st, TASK_STATE_LEN);
	describe(g, "TASK_STATE with flags 2");
	try_w(g, EBADMSG);
	/* lengths */
	with_state_record(g, T_SIGNALS, 0, sig, SIGNALS_LEN - 1);
	describe(g, "SIGNALS one byte short");
	try_w(g, EBADMSG);
	sig[SIGNALS_LEN] = 0;
	with_state_record(g, T_SIGNALS, 0, sig, SIGNALS_LEN + 1);
	describe(g, "SIGNALS one byte long");
	try_w(g, EBADMSG);
	with_state_record(g, T_TASK_STATE, 0, st, TASK_STATE_LEN - 8);
	describe(g, "TASK_STATE 8 bytes short");
	try_w(g, EBADMSG);
	st[TASK_STATE_LEN] = 0;
	with_state_record(g, T_TASK_STATE, 0, st, TASK_STATE_LEN + 1);
	describe(g, "TASK_STATE one byte long");
	try_w(g, EBADMSG);
	/* values the kernel cannot have */
	for (i = 0; i < sizeof(bad_sig) / sizeof(bad_sig[0]); i++) {
		valid_signals(sig);
		if (bad_sig[i].size == 8)
			put64(sig + bad_sig[i].at, bad_sig[i].v);
		else
			put32(sig + bad_sig[i].at, bad_sig[i].v);
		with_state_record(g, T_SIGNALS, 0, sig, SIGNALS_LEN);
		describe(g, "SIGNALS: %s", bad_sig[i].what);
		try_w(g, EBADMSG);
	}
	for (i = 0; i < sizeof(bad_st) / sizeof(bad_st[0]); i++) {
		valid_task_state(st);
		if (bad_st[i].size == 8)
			put64(st + bad_st[i].at, bad_st[i].v);
		else
			put32(st + bad_st[i].at, bad_st[i].v);
		with_state_record(g, T_TASK_STATE, 0, st, TASK_STATE_LEN);
		describe(g, "TASK_STATE: %s", bad_st[i].what);
		try_w(g, EBADMSG);
	}
	/* random bytes anywhere in a valid SIGNALS record: refused or skipped, never more */
	for (i = 0; i < 2; i++) {
		valid_signals(sig);
		sig[below(g, SIGNALS_LEN)] = rnd(g);
		with_state_record(g, T_SIGNALS, 0, sig, SIGNALS_LEN);
		describe(g, "SIGNALS with a random byte");
		try_w(g, ANY);
	}
	CHECK_DONE(IMAGES_SIGNAL_AND_TASK_STATE);
}

TEST_HARNESS_MAIN
