// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile process images (issue 11, acceptance 4; issue 10, hostile-input
 * coverage of the memory, register, signal and task-state records).
 *
 * Seed: the static -nostdlib child (ckpt_process_child.c, copied onto a
 * tmpfs), traced, is checkpointed at its second stop as a process image
 * (CKPT_CHECKPOINT_PROCESS) into a memfd and read into memory. Mutations of
 * the MM, VMA, PAGES (header and data), REGSET (NT_PRSTATUS and
 * NT_X86_XSTATE), SIGNALS and TASK_STATE records:
 *   - bit flips and byte overwrites in each record, with the image's
 *     checksums left alone (every one must be refused) and recomputed (the
 *     terminator's CRC-32C and each PAGES record's CRC-32C, computed here
 *     from Documentation/image-format.rst, not by the codec);
 *   - truncations inside each record, raw and with the framing fixed;
 *   - structural ones: a VMA overlapping another, unaligned, above
 *     TASK_SIZE_MAX, over the caller's vDSO; PAGES outside their VMA, for a
 *     record that is no VMA or missing, before their VMA; a duplicate or
 *     missing register set, MM record, ...; a file VMA naming a non-file, a
 *     missing record or a character device; segment selectors, non-canonical
 *     ip/sp/fs base, MXCSR and XSAVE header reserved bits;
 *   - value changes the format allows (a GPR, DF, fs base, an xmm register,
 *     a page byte), which must be accepted and restored exactly.
 * Each image is judged in a forked, traced child running phase A
 * (CKPT_IOC_RESTART with CKPT_RESTART_PROCESS). Refused: the errno and reason
 * must be a documented pair (Documentation/restart.rst), with a message, and
 * the child intact: /proc/self/maps and its fd table as before, and a
 * following CKPT_IOC_RESTART_COMMIT finds no plan (EINVAL). Accepted: a
 * mutation of a structural field fails the test; otherwise the child sets fs
 * and gs base, XRSTORs the image's XSAVE area and commits (as ckpt restore's
 * stub does) and must become the image's process: it runs one step of its
 * loop and stops itself, and then its /proc/PID/maps matches the image's
 * VMAs (ranges, protection, sharing, file offsets), every PAGES record's
 * bytes are in its memory (/proc/PID/mem; the two counters may be one
 * further), and the registers the loop leaves alone, fs and gs base, DF,
 * MXCSR and xmm0-15 are the image's (PTRACE_GETREGSET). A process killed
 * after the point of no return fails the test. The kernel log is judged by
 * vm-run.
 *
 * CKPT_HOSTILE_SCALE (default 1) multiplies the number of random mutations
 * (about 500 images at 1).
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/ckpt.h>

#include "kselftest_harness.h"
#include "ckpt_selftest.h"

/* Record types (Documentation/image-format.rst). */
#define R_TERM		0x0001
#define R_ENV		0x0002
#define R_TASKVEC	0x0003
#define R_TASK		0x0010
#define R_REGSET	0x0011
#define R_SIGNALS	0x0012
#define R_TSTATE	0x0013
#define R_FTABLE	0x0020
#define R_FILE		0x0021
#define R_FDATA		0x0023
#define R_MM		0x0030
#define R_VMA		0x0031
#define R_PAGES		0x0032

#define PG		4096
#define TASK_SIZE_MAX	((1ULL << 47) - 4096)
#define VMA_LEN		48
#define NT_XSTATE	0x202
#define DATA_LIMIT	(512ULL << 20)	/* the judging child's RLIMIT_DATA */

/* struct user_regs_struct indices */
enum { R15, R14, R13, R12, RBP, RBX, R11, R10, R9, R8, RAX, RCX, RDX, RSI, RDI, ORIG_RAX,
	RIP, CS, EFLAGS, RSP, SS, FS_BASE, GS_BASE, DS, ES, FS, GS, NREGS };

/* Expectations. */
enum { MUST_REFUSE, MAY_ACCEPT, MUST_ACCEPT, COMMIT_REFUSE };
static const char *const cls_name[] = { "must refuse", "may be accepted", "must be accepted",
					"phase B must refuse" };

struct rec {
	size_t off;
	uint32_t len;
	uint16_t type;
	uint64_t id;
};

#define MAXREC 512
struct img {
	uint8_t *b;
	size_t len;
	int n;
	struct rec r[MAXREC];
};

/* Walks the records; returns their number or -1. */
static int walk(struct img *m)
{
	size_t o = CKPT_HDR_LEN;

	m->n = 0;
	while (o + CKPT_RHDR_LEN <= m->len && m->n < MAXREC) {
		struct rec *r = &m->r[m->n++];

		r->off = o;
		r->type = ckpt_get16(m->b + o);
		r->len = ckpt_get32(m->b + o + 4);
		r->id = ckpt_get64(m->b + o + 8);
		if (r->len < CKPT_RHDR_LEN || o + r->len > m->len)
			return -1;
		if (r->type == R_TERM)
			return m->n;
		o += r->len;
	}
	return -1;
}

/* Recomputes the terminator's count, length and CRC-32C (last record). */
static void fix_term(uint8_t *b, size_t len)
{
	size_t o = CKPT_HDR_LEN;
	uint64_t n = 0;

	while (o + CKPT_RHDR_LEN <= len) {
		uint32_t l = ckpt_get32(b + o + 4);

		if (ckpt_get16(b + o) == R_TERM || l < CKPT_RHDR_LEN || o + l > len)
			break;
		o += l;
		n++;
	}
	if (len < CKPT_HDR_LEN + CKPT_TERM_LEN)
		return;
	ckpt_put64(b + len - 20, n);
	ckpt_put64(b + len - 12, len - CKPT_TERM_LEN);
	ckpt_put32(b + len - 4, ckpt_crc32c(b, len - 4));
}

/* Recomputes a PAGES record's CRC-32C: the payload without the crc field. */
static void fix_pages(uint8_t *b, size_t off)
{
	uint32_t len = ckpt_get32(b + off + 4);
	uint8_t *p = b + off + CKPT_RHDR_LEN, *t;
	size_t pl = len - CKPT_RHDR_LEN;

	if (len < CKPT_RHDR_LEN + 24)
		return;
	t = malloc(pl);
	memcpy(t, p, 20);
	memcpy(t + 20, p + 24, pl - 24);
	ckpt_put32(p + 20, ckpt_crc32c(t, pl - 4));
	free(t);
}

/* Every PAGES record's CRC, then the terminator. */
static void fix_all(uint8_t *b, size_t len)
{
	struct img m = { .b = b, .len = len };
	int i;

	if (walk(&m) > 0)
		for (i = 0; i < m.n; i++)
			if (m.r[i].type == R_PAGES)
				fix_pages(b, m.r[i].off);
	fix_term(b, len);
}

/* ---- the seed ---- */

struct child_info {
	uint64_t counter, page, quit;
};

static struct img seed;
static struct child_info info;
static uint64_t vdso_s, vdso_e;		/* this process's [vdso] */
static int devfd;

/* ---- rebuilding an image from pieces, ids renumbered 2, 4, 6... ---- */

struct piece {
	const uint8_t *p;
	uint32_t len;
};

static uint64_t map_id(const uint64_t *old, const uint64_t *nw, int n, uint64_t id, uint64_t self)
{
	int i;

	if (!id)
		return 0;
	for (i = 0; i < n; i++)
		if (old[i] == id)
			return nw[i];
	return self - 1;	/* odd: names no record, backwards */
}

/*
 * The seed's header, @pieces (records, terminator excluded) in that order,
 * ids renumbered with references remapped (a reference to a record not among
 * the pieces names no record), PAGES CRCs and the terminator recomputed.
 */
static uint8_t *rebuild(const struct piece *pc, int n, size_t *outlen)
{
	uint64_t old[MAXREC], nw[MAXREC];
	size_t len = CKPT_HDR_LEN + CKPT_TERM_LEN, o;
	uint8_t *b, *p;
	int i, k;

	for (i = 0; i < n; i++)
		len += pc[i].len;
	b = malloc(len);
	memcpy(b, seed.b, CKPT_HDR_LEN);
	o = CKPT_HDR_LEN;
	for (i = 0; i < n; i++) {
		memcpy(b + o, pc[i].p, pc[i].len);
		old[i] = ckpt_get64(b + o + 8);
		nw[i] = 2 * (i + 1);
		for (k = 0; k < i; k++)
			if (old[k] == old[i])
				break;
		if (k < i)
			old[i] = ~0ULL;	/* a copy: references name the first */
		ckpt_put64(b + o + 8, nw[i]);
		o += pc[i].len;
	}
	o = CKPT_HDR_LEN;
	for (i = 0; i < n; i++) {
		uint16_t t = ckpt_get16(b + o);
		uint64_t self = nw[i];
		uint32_t cnt;

		p = b + o + CKPT_RHDR_LEN;
#define REMAP(at) ckpt_put64(p + (at), map_id(old, nw, n, ckpt_get64(p + (at)), self))
		switch (t) {
		case R_TASKVEC:
		case R_FDATA:
		case R_PAGES:
			REMAP(0);
			break;
		case R_TASK:
			REMAP(64);
			break;
		case R_MM:
			REMAP(88);
			break;
		case R_VMA:
			REMAP(24);
			break;
		case R_FTABLE:
			cnt = ckpt_get32(p);
			for (k = 0; k < (int)cnt && 8 + 16 * k + 16 <= (int)pc[i].len - 16; k++)
				REMAP(8 + 16 * k + 8);
			break;
		}
#undef REMAP
		o += pc[i].len;
	}
	/* the terminator: header, then count, length, crc filled by fix_all */
	ckpt_put16(b + o, R_TERM);
	ckpt_put16(b + o + 2, 1);
	ckpt_put32(b + o + 4, CKPT_TERM_LEN);
	ckpt_put64(b + o + 8, 0);
	fix_all(b, len);
	*outlen = len;
	return b;
}

/* The seed's records but the terminator, as pieces. */
static int seed_pieces(struct piece *pc)
{
	int i;

	for (i = 0; i < seed.n - 1; i++) {
		pc[i].p = seed.b + seed.r[i].off;
		pc[i].len = seed.r[i].len;
	}
	return seed.n - 1;
}

static int find(uint16_t type, int nth)
{
	int i;

	for (i = 0; i < seed.n; i++)
		if (seed.r[i].type == type && nth-- == 0)
			return i;
	return -1;
}

/* The regset record of note @note. */
static int find_regset(uint32_t note)
{
	int i, k;

	for (k = 0; (i = find(R_REGSET, k)) >= 0; k++)
		if (ckpt_get32(seed.b + seed.r[i].off + CKPT_RHDR_LEN) == note)
			return i;
	return -1;
}

static int find_id(uint64_t id)
{
	int i;

	for (i = 0; i < seed.n; i++)
		if (seed.r[i].id == id)
			return i;
	return -1;
}

/* ---- judging ---- */

struct result {
	int phase_a;		/* 0 accepted, else errno */
	uint32_t reason;
	int intact;		/* refused: 0 or what differs (bits) */
	int commit_err;		/* refused: the errno of the commit after */
	char log[400];
	char why[200];
};

static struct {
	int images, refused, accepted, verified, commit_refused, failures;
	int xrstor_refused;
} st;

static const char *documented(int err, uint32_t reason)
{
	switch (reason) {
	case CKPT_REASON_BAD_IMAGE:
		return err == EBADMSG || err == EOPNOTSUPP || err == EINVAL ? NULL : "bad image";
	case CKPT_REASON_IMAGE_VERSION:
	case CKPT_REASON_ENV_MISMATCH:
		return err == ENOEXEC ? NULL : "env";
	case CKPT_REASON_TOO_LARGE:
		return err == EFBIG || err == EMFILE ? NULL : "too large";
	case CKPT_REASON_FILE_MISSING:
		return err == ENOENT || err == ESTALE ? NULL : "missing";
	case CKPT_REASON_FILE_REPLACED:
	case CKPT_REASON_FILE_CHANGED:
		return err == ESTALE ? NULL : "replaced/changed";
	case CKPT_REASON_FILE_ACCESS:
		return err == EACCES || err == EPERM || err == EROFS || err == ENODEV ||
		       err == ENXIO || err == ETXTBSY ? NULL : "access";
	case CKPT_REASON_FD_BUSY:
		return err == EBUSY ? NULL : "fd busy";
	case CKPT_REASON_EXTERNAL_MISSING:
		return err == EBADF ? NULL : "external";
	case CKPT_REASON_NONE:
		return err == EPERM || err == EBUSY || err == ENOMEM ? NULL : "none";
	}
	return "an undocumented reason";
}

/* What the stub needs, at fixed offsets. */
struct stub_args {
	uint64_t fs, gs, xstate, rfbm, dev, cmd, arg;
};

static uint8_t xarea[1 << 15] __attribute__((aligned(64)));
static uint8_t xsaved[1 << 15] __attribute__((aligned(64)));
static struct ckpt_restart_commit commit_arg;
static struct stub_args sargs;
static sigjmp_buf xjmp;

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(xjmp, 1);
}

/* Does XRSTOR accept @area (what ckpt restore's user space would find out)? */
static int xrstor_ok(void)
{
	struct sigaction sa = { .sa_handler = on_segv }, old;
	int ok = 0;

	sigaction(SIGSEGV, &sa, &old);
	if (!sigsetjmp(xjmp, 1)) {
		__asm__ volatile("xsave64 (%0)\n\txrstor64 (%1)\n\txrstor64 (%0)"
				 : : "r"(xsaved), "r"(xarea), "a"(-1), "d"(-1) : "memory");
		ok = 1;
	}
	sigaction(SIGSEGV, &old, NULL);
	return ok;
}

/* fs base, gs base, XRSTOR, commit; exits 100 + errno if the commit returns. */
static void __attribute__((noreturn)) stub(struct stub_args *a)
{
	__asm__ volatile(
		"mov %0, %%r12\n"
		"mov $158, %%eax\n"
		"mov $0x1002, %%edi\n"
		"mov (%%r12), %%rsi\n"
		"syscall\n"
		"mov $158, %%eax\n"
		"mov $0x1001, %%edi\n"
		"mov 8(%%r12), %%rsi\n"
		"syscall\n"
		"mov 16(%%r12), %%r13\n"
		"test %%r13, %%r13\n"
		"jz 3f\n"
		"mov 24(%%r12), %%eax\n"
		"mov 28(%%r12), %%edx\n"
		"xrstor64 (%%r13)\n"
		"3:\n"
		"mov $16, %%eax\n"
		"mov 32(%%r12), %%rdi\n"
		"mov 40(%%r12), %%rsi\n"
		"mov 48(%%r12), %%rdx\n"
		"syscall\n"
		"neg %%eax\n"
		"lea 100(%%rax), %%edi\n"
		"mov $231, %%eax\n"
		"syscall\n"
		"ud2\n"
		: : "r"(a) : "memory");
	__builtin_unreachable();
}

/* /proc/self/maps as it is (unlike ckpt_maps_of(), unjoined: a split mapping shows). */
static void maps_self(char *buf, size_t len)
{
	ssize_t n = ckpt_read_file("/proc/self/maps", buf, len - 1);

	buf[n > 0 ? n : 0] = 0;
}

/*
 * The forked child: phase A on @b; the result to @out. Accepted (and not
 * @no_commit): fs/gs base, XRSTOR, commit.
 */
static void __attribute__((noreturn)) judge_child(const uint8_t *b, size_t len, int out, int cls)
{
	static char before[16384], after[16384];
	static struct ckpt_fdsnap s1, s2;
	static struct result res;
	struct ckpt_restart r = { 0 };
	char diff[256];
	int mfd, i;
	struct img m = { .b = (uint8_t *)b, .len = len };
	uint64_t regs[NREGS] = { 0 };
	int have_x = 0;

	ptrace(PTRACE_TRACEME, 0, 0, 0);
	/*
	 * a finite heap limit: phase B sets brk within RLIMIT_DATA, so phase A
	 * must check it. The soft limit only: a hard limit below the image's is
	 * refused (restart never raises a limit).
	 */
	setrlimit(RLIMIT_DATA, &(struct rlimit){ DATA_LIMIT, RLIM_INFINITY });
	mfd = memfd_create("hostile", 0);
	if (mfd < 0 || write(mfd, b, len) != (ssize_t)len || lseek(mfd, 0, SEEK_SET))
		_exit(90);
	maps_self(before, sizeof(before));
	ckpt_fd_snapshot(&s1);
	r.fd = mfd;
	r.flags = CKPT_RESTART_PROCESS;
	r.log_buf = (uintptr_t)res.log;
	r.log_size = sizeof(res.log);
	res.phase_a = ioctl(devfd, CKPT_IOC_RESTART, &r) ? errno : 0;
	res.reason = r.reason;
	if (res.phase_a || cls == COMMIT_REFUSE) {
		if (!res.phase_a) {
			/* phase B must refuse before its point of no return */
			res.commit_err = ioctl(devfd, CKPT_IOC_RESTART_COMMIT, &commit_arg) ? errno : 0;
			res.phase_a = -1;
		}
		maps_self(after, sizeof(after));
		ckpt_fd_snapshot(&s2);
		res.intact = (strcmp(before, after) ? 1 : 0) |
			     (ckpt_fd_snap_diff_but(&s1, &s2, mfd, diff, sizeof(diff)) ? 2 : 0);
		if (res.phase_a > 0)
			res.commit_err = ioctl(devfd, CKPT_IOC_RESTART_COMMIT, &commit_arg) ?
					 errno : 0;
		if (res.intact & 2)
			snprintf(res.why, sizeof(res.why), "fd table: %s", diff);
		else if (res.intact & 1)
			snprintf(res.why, sizeof(res.why), "maps changed");
		if (write(out, &res, sizeof(res)) != sizeof(res))
			_exit(91);
		_exit(0);
	}
	/* accepted: the registers and XSAVE area from the image, then commit */
	if (walk(&m) > 0) {
		for (i = 0; i < m.n; i++) {
			const uint8_t *p = b + m.r[i].off + CKPT_RHDR_LEN;
			uint32_t note = ckpt_get32(p), l = ckpt_get32(p + 4);

			if (m.r[i].type != R_REGSET)
				continue;
			if (note == NT_PRSTATUS && l == NREGS * 8)
				for (int k = 0; k < NREGS; k++)
					regs[k] = ckpt_get64(p + 8 + 8 * k);
			if (note == NT_XSTATE && l <= sizeof(xarea)) {
				memset(xarea, 0, sizeof(xarea));
				memcpy(xarea, p + 8, l);
				have_x = 1;
			}
		}
	}
	if (have_x && !xrstor_ok()) {
		snprintf(res.why, sizeof(res.why), "XRSTOR refuses the XSAVE area");
		res.phase_a = -2;
		if (write(out, &res, sizeof(res)) != sizeof(res))
			_exit(91);
		_exit(0);
	}
	if (write(out, &res, sizeof(res)) != sizeof(res))
		_exit(91);
	sargs.fs = regs[FS_BASE];
	sargs.gs = regs[GS_BASE];
	sargs.xstate = have_x ? (uintptr_t)xarea : 0;
	sargs.rfbm = ~0ULL;
	sargs.dev = devfd;
	sargs.cmd = CKPT_IOC_RESTART_COMMIT;
	sargs.arg = (uintptr_t)&commit_arg;
	stub(&sargs);
}

/* Is the word at @a of the restored process the image's, or one more (a counter)? */
static int counter_ok(const uint8_t *want, const uint8_t *got)
{
	uint64_t w = ckpt_get64(want), g = ckpt_get64(got);

	return g == w || g == w + 1;
}

/*
 * The stopped restored process @pid against image @b: maps, page data,
 * registers. Returns NULL or what differs (in @why).
 */
static const char *verify(pid_t pid, const uint8_t *b, size_t len, char *why, size_t wl)
{
	struct img m = { .b = (uint8_t *)b, .len = len };
	static uint8_t mem[64 * PG + 8], xs[1 << 15];
	struct user_regs_struct ur;
	struct iovec iov = { &ur, sizeof(ur) };
	uint64_t got[NREGS], want[NREGS] = { 0 };
	char path[64], line[512];
	uint64_t vs[MAXREC], ve[MAXREC], vo[MAXREC];
	uint32_t vp[MAXREC], vf[MAXREC];
	uint16_t vk[MAXREC];
	int nv = 0, i, k, have_regs = 0;
	const uint8_t *xsw = NULL;
	uint32_t xl = 0;
	FILE *f;

	if (walk(&m) < 0)
		return "cannot walk the image";
	for (i = 0; i < m.n; i++) {
		const uint8_t *p = b + m.r[i].off + CKPT_RHDR_LEN;

		if (m.r[i].type == R_VMA && nv < MAXREC) {
			vs[nv] = ckpt_get64(p);
			ve[nv] = ckpt_get64(p + 8);
			vo[nv] = ckpt_get64(p + 16);
			vp[nv] = ckpt_get32(p + 32);
			vf[nv] = ckpt_get32(p + 36);
			vk[nv] = ckpt_get16(p + 40);
			nv++;
		}
		if (m.r[i].type == R_REGSET && ckpt_get32(p) == NT_PRSTATUS &&
		    ckpt_get32(p + 4) == NREGS * 8) {
			for (k = 0; k < NREGS; k++)
				want[k] = ckpt_get64(p + 8 + 8 * k);
			have_regs = 1;
		}
		if (m.r[i].type == R_REGSET && ckpt_get32(p) == NT_XSTATE) {
			xsw = p + 8;
			xl = ckpt_get32(p + 4);
		}
	}
	/* maps: every line inside one VMA of the image, with its protection */
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return "no maps";
	{
		uint64_t covered[MAXREC] = { 0 };

		while (fgets(line, sizeof(line), f)) {
			unsigned long s, e, off;
			char perms[8], name[256] = "";

			if (sscanf(line, "%lx-%lx %7s %lx %*s %*u %255s", &s, &e, perms, &off,
				   name) < 4)
				continue;
			if (name[0] == '[' && strcmp(name, "[stack]") && strcmp(name, "[heap]"))
				continue;	/* [vdso], [vvar]...: the caller's */
			for (k = 0; k < nv; k++)
				if (s >= vs[k] && e <= ve[k])
					break;
			if (k == nv || vk[k] == 5 || vk[k] == 6) {
				snprintf(why, wl, "mapping %lx-%lx is no VMA of the image", s, e);
				fclose(f);
				return why;
			}
			if ((perms[0] == 'r') != !!(vp[k] & 1) ||
			    (perms[1] == 'w') != !!(vp[k] & 2) ||
			    (perms[2] == 'x') != !!(vp[k] & 4) ||
			    (perms[3] == 's') != !!(vf[k] & 1) ||
			    (vk[k] == 2 && off != vo[k] + (s - vs[k]))) {
				snprintf(why, wl, "mapping %lx-%lx %s off %lx: the image says prot %u flags %#x offset %lx",
					 s, e, perms, off, vp[k], vf[k],
					 (unsigned long)(vo[k] + (s - vs[k])));
				fclose(f);
				return why;
			}
			covered[k] += e - s;
		}
		fclose(f);
		for (k = 0; k < nv; k++)
			if (vk[k] != 5 && vk[k] != 6 && covered[k] != ve[k] - vs[k]) {
				snprintf(why, wl, "VMA %lx-%lx of the image is not all mapped",
					 (unsigned long)vs[k], (unsigned long)ve[k]);
				return why;
			}
	}
	/* page data */
	for (i = 0; i < m.n; i++) {
		const uint8_t *p = b + m.r[i].off + CKPT_RHDR_LEN;
		uint64_t start = ckpt_get64(p + 8);
		uint32_t cnt = ckpt_get32(p + 16);
		size_t n = (size_t)cnt * PG, j;

		if (m.r[i].type != R_PAGES || cnt > 64)
			continue;
		if (ckpt_mem_read(pid, start, mem, n)) {
			snprintf(why, wl, "cannot read pages at %lx", (unsigned long)start);
			return why;
		}
		for (j = 0; j < n; j++) {
			uint64_t a = start + j;

			if (a == info.counter || a == info.page) {
				if (!counter_ok(p + 24 + j, mem + j)) {
					snprintf(why, wl, "counter at %lx: %llx, image %llx",
						 (unsigned long)a,
						 (unsigned long long)ckpt_get64(mem + j),
						 (unsigned long long)ckpt_get64(p + 24 + j));
					return why;
				}
				j += 7;
				continue;
			}
			if (mem[j] != p[24 + j]) {
				snprintf(why, wl, "byte at %lx is %#x, the image says %#x",
					 (unsigned long)a, mem[j], p[24 + j]);
				return why;
			}
		}
	}
	/* registers the loop leaves alone */
	if (!have_regs)
		return NULL;
	if (ptrace(PTRACE_GETREGSET, pid, NT_PRSTATUS, &iov))
		return "PTRACE_GETREGSET NT_PRSTATUS failed";
	memcpy(got, &ur, sizeof(got));
	{
		static const int keep[] = { R15, R14, R13, R12, RBP, RBX, R10, R9, R8, RDX, RSP,
					    FS_BASE, GS_BASE };
		static const char *const names[] = { "r15", "r14", "r13", "r12", "rbp", "rbx",
						     "r10", "r9", "r8", "rdx", "rsp", "fs base",
						     "gs base" };

		for (k = 0; k < (int)(sizeof(keep) / sizeof(keep[0])); k++)
			if (got[keep[k]] != want[keep[k]]) {
				snprintf(why, wl, "%s is %#llx, the image says %#llx", names[k],
					 (unsigned long long)got[keep[k]],
					 (unsigned long long)want[keep[k]]);
				return why;
			}
		if ((got[EFLAGS] ^ want[EFLAGS]) & 0x400) {
			snprintf(why, wl, "DF differs (eflags %#llx, image %#llx)",
				 (unsigned long long)got[EFLAGS], (unsigned long long)want[EFLAGS]);
			return why;
		}
	}
	if (xsw && xl >= 576 && (ckpt_get64(xsw + 512) & 2)) {
		iov.iov_base = xs;
		iov.iov_len = sizeof(xs);
		if (ptrace(PTRACE_GETREGSET, pid, NT_XSTATE, &iov))
			return "PTRACE_GETREGSET NT_X86_XSTATE failed";
		if (ckpt_get32(xs + 24) != ckpt_get32(xsw + 24)) {
			snprintf(why, wl, "MXCSR %#x, the image says %#x", ckpt_get32(xs + 24),
				 ckpt_get32(xsw + 24));
			return why;
		}
		for (k = 0; k < 16; k++) {
			const uint8_t *w = xsw + 160 + 16 * k, *g = xs + 160 + 16 * k;

			/* xmm9 += xmm8 (the increment) at each step */
			if (k == 9 ? (ckpt_get64(g) != ckpt_get64(w) &&
				      ckpt_get64(g) != ckpt_get64(w) + ckpt_get64(xsw + 160 + 8 * 16)) ||
				     memcmp(w + 8, g + 8, 8) :
				     memcmp(w, g, 16) != 0) {
				snprintf(why, wl, "xmm%d differs from the image", k);
				return why;
			}
		}
	}
	return NULL;
}

/*
 * Waits up to @sec seconds for @pid to change state: 1 with its status in
 * *@status, 0 if it did not, -1 if waitpid() failed.
 */
static int wait_upto(pid_t pid, int sec, int *status)
{
	struct timespec d = { 0, 10 * 1000 * 1000 };

	for (int i = 0; i < sec * 100; i++) {
		pid_t r = waitpid(pid, status, __WALL | WNOHANG);

		if (r == pid)
			return 1;
		if (r < 0)
			return -1;
		nanosleep(&d, NULL);
	}
	return 0;
}

/* Waits for @pid up to @sec seconds; returns its status or -1 (then killed). */
static int wait_for(pid_t pid, int sec)
{
	int status, r = wait_upto(pid, sec, &status);

	if (r)
		return r > 0 ? status : -1;
	kill(pid, SIGKILL);
	waitpid(pid, &status, __WALL);
	return -1;
}

/*
 * Waits for @pid up to @sec seconds; then stops it (a changed program may
 * loop instead of stopping itself) and waits for that.
 */
static int wait_for_stop(pid_t pid, int sec)
{
	int status, r = wait_upto(pid, sec, &status);

	if (r)
		return r > 0 ? status : -1;
	kill(pid, SIGSTOP);
	return wait_for(pid, 10);
}

/* Kills @pid if it is still there and reaps it. */
static void reap(pid_t pid)
{
	int status;

	if (kill(pid, SIGKILL))
		return;
	while (waitpid(pid, &status, __WALL) == pid && !WIFEXITED(status) && !WIFSIGNALED(status))
		;
}

static int verbose;

/* Judges image @b (@len bytes, freed here), mutation @name of class @cls. */
static void judge(struct __test_metadata *_metadata, uint8_t *b, size_t len, int cls,
		  const char *name)
{
	struct result res = { 0 };
	char why[600] = "";
	const char *fail = NULL, *bad;
	int pfd[2], status;
	ssize_t n;
	pid_t pid;

	st.images++;
	if (pipe(pfd)) {
		free(b);
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		judge_child(b, len, pfd[1], cls);
	}
	close(pfd[1]);
	n = read(pfd[0], &res, sizeof(res));
	close(pfd[0]);
	if (n != sizeof(res)) {
		status = wait_for(pid, 10);
		snprintf(why, sizeof(why), "the judging child died (status %#x)", status);
		fail = why;
		goto out;
	}
	if (res.phase_a > 0) {
		st.refused++;
		status = wait_for(pid, 10);
		if (cls == MUST_ACCEPT) {
			snprintf(why, sizeof(why), "a valid image was refused: errno %d reason %u: %s",
				 res.phase_a, res.reason, res.log);
			fail = why;
		} else if ((bad = documented(res.phase_a, res.reason))) {
			snprintf(why, sizeof(why), "errno %d with reason %u (%s): %s", res.phase_a,
				 res.reason, bad, res.log);
			fail = why;
		} else if (!res.log[0]) {
			fail = "refused without a message";
		} else if (res.intact) {
			snprintf(why, sizeof(why), "refused but the caller changed: %s", res.why);
			fail = why;
		} else if (res.commit_err != EINVAL) {
			snprintf(why, sizeof(why), "a commit after the refusal: errno %d, not EINVAL",
				 res.commit_err);
			fail = why;
		}
		if (verbose)
			TH_LOG("%s: refused (%d/%u): %s", name, res.phase_a, res.reason, res.log);
		goto out;
	}
	if (res.phase_a == -1) {	/* COMMIT_REFUSE */
		status = wait_for(pid, 10);
		st.accepted++;
		st.commit_refused++;
		if (res.commit_err != EBUSY || res.intact) {
			snprintf(why, sizeof(why), "phase B: errno %d (want EBUSY), caller %s",
				 res.commit_err, res.intact ? res.why : "intact");
			fail = why;
		}
		goto out;
	}
	st.accepted++;
	if (res.phase_a == -2) {
		status = wait_for(pid, 10);
		st.xrstor_refused++;
		TH_LOG("%s: accepted by phase A, but %s", name, res.why);
		if (cls == MUST_REFUSE) {
			snprintf(why, sizeof(why), "accepted by phase A (%s)", res.why);
			fail = why;
		}
		goto out;
	}
	if (cls == MUST_REFUSE) {
		fail = "accepted by phase A";
		wait_for(pid, 10);
		goto out;
	}
	/* committed: it must become the image's process and stop itself */
	status = wait_for_stop(pid, 5);
	if (status == -1) {
		fail = "the restored process did not stop";
	} else if (WIFEXITED(status) && WEXITSTATUS(status) >= 100) {
		st.commit_refused++;
		if (WEXITSTATUS(status) - 100 != EBUSY) {
			snprintf(why, sizeof(why), "the commit failed with errno %d",
				 WEXITSTATUS(status) - 100);
			fail = why;
		}
	} else if (WIFEXITED(status)) {
		/* 42: it found its quit word set (a changed page) and quit */
		if (WEXITSTATUS(status) == 42)
			st.verified++;
		snprintf(why, sizeof(why), "the restored process exited with %d",
			 WEXITSTATUS(status));
		fail = WEXITSTATUS(status) == 42 ? NULL : why;
	} else if (WIFSIGNALED(status)) {
		snprintf(why, sizeof(why), "the restored process was killed by signal %d (after the point of no return?)",
			 WTERMSIG(status));
		fail = why;
	} else if (WIFSTOPPED(status)) {
		const char *v = verify(pid, b, len, why, sizeof(why));

		if (v) {
			fail = v;
		} else {
			st.verified++;
			if (WSTOPSIG(status) != SIGSTOP && verbose)
				TH_LOG("%s: restored, stopped by signal %d", name, WSTOPSIG(status));
		}
	}
out:
	reap(pid);
	if (fail) {
		st.failures++;
		TH_LOG("FAIL %s (%s): %s", name, cls_name[cls], fail);
	}
	free(b);
}

/* ---- mutations ---- */

static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static uint8_t *seed_copy(void)
{
	uint8_t *b = malloc(seed.len);

	memcpy(b, seed.b, seed.len);
	return b;
}

static int has_bits(uint64_t v, uint64_t bits)
{
	return (v & bits) != 0;
}

/*
 * The class of the image @b after a change at payload offset @po of record
 * @ri (the seed's index; @b has the same layout), CRCs fixed.
 */
static int classify(const uint8_t *b, int ri, size_t po)
{
	const struct rec *r = &seed.r[ri];
	const uint8_t *p = b + r->off + CKPT_RHDR_LEN;
	uint64_t sp, size;
	uint32_t fl, note;
	int reg, k;

	switch (r->type) {
	case R_MM:
		if (po < 88) {
			/* ordered pairs (end >= start), user addresses */
			for (k = 0; k < 88; k += 8)
				if (ckpt_get64(p + k) > TASK_SIZE_MAX)
					return MUST_REFUSE;
			if (ckpt_get64(p + 8) < ckpt_get64(p) ||
			    ckpt_get64(p + 24) < ckpt_get64(p + 16) ||
			    ckpt_get64(p + 40) < ckpt_get64(p + 32) ||
			    ckpt_get64(p + 64) < ckpt_get64(p + 56) ||
			    ckpt_get64(p + 80) < ckpt_get64(p + 72))
				return MUST_REFUSE;
			return MAY_ACCEPT;
		}
		if (po >= 112 && po < 116)
			return MAY_ACCEPT;	/* personality: not restored yet */
		if (po >= 96 && po < 104)
			return MUST_REFUSE;	/* vdso_start: the vDSO VMA's start */
		if (po >= 120 && (po - 120) % 16 >= 8)
			return MAY_ACCEPT;	/* an auxv value */
		if (po >= 120)
			return ckpt_get64(p + 120 + (po - 120) / 16 * 16) ? MAY_ACCEPT : MUST_REFUSE;
		return MUST_REFUSE;	/* exe_file, vDSO start/length/crc, auxv count */
	case R_VMA:
		/* range, prot, flags, kind: the restored maps must show them */
		if (po < 16 || (po >= 32 && po < 42))
			return MAY_ACCEPT;
		if (po < 24 && ckpt_get16(p + 40) == 2)
			return MAY_ACCEPT;	/* a file mapping's offset */
		return MUST_REFUSE;
	case R_PAGES:
		if (po >= 24)
			return MUST_ACCEPT;
		if (po >= 8 && po < 16)
			return MAY_ACCEPT;	/* another start inside the VMA */
		return MUST_REFUSE;
	case R_REGSET:
		note = ckpt_get32(seed.b + r->off + CKPT_RHDR_LEN);
		if (po < 8)
			return MUST_REFUSE;
		if (note == NT_PRSTATUS) {
			reg = (po - 8) / 8;
			switch (reg) {
			case R15: case R14: case R13: case RBP: case RBX: case R10: case R9:
			case R8: case RDX:
				return MUST_ACCEPT;
			case CS: case SS: case DS: case ES: case FS: case GS:
				return MUST_REFUSE;
			case RIP: case RSP: case FS_BASE: case GS_BASE:
				return ckpt_get64(p + 8 + 8 * reg) < TASK_SIZE_MAX ? MAY_ACCEPT :
										   MUST_REFUSE;
			default:
				return MAY_ACCEPT;
			}
		}
		if (note == NT_XSTATE) {
			po -= 8;
			if (po >= 24 && po < 28)
				return ckpt_get32(p + 8 + 24) >> 16 ? MUST_REFUSE : MAY_ACCEPT;
			if (po >= 160 && po < 416)
				return MUST_ACCEPT;	/* xmm0-15 */
			if (po >= 512 && po < 520)
				return MAY_ACCEPT;	/* xstate_bv: refused unless enabled */
			if (po >= 520 && po < 576)
				return MUST_REFUSE;	/* xcomp_bv, reserved */
			return MAY_ACCEPT;
		}
		return MAY_ACCEPT;
	case R_SIGNALS:
		if (has_bits(ckpt_get64(p), 1ULL << 8 | 1ULL << 18))
			return MUST_REFUSE;
		sp = ckpt_get64(p + 8);
		size = ckpt_get64(p + 16);
		fl = ckpt_get32(p + 24);
		if (fl & ~(2U | 0x80000000U))
			return MUST_REFUSE;
		if ((fl & 2) ? (sp || size) : !size)
			return MUST_REFUSE;
		if (ckpt_get32(p + 28) != 64)
			return MUST_REFUSE;
		for (k = 0; k < 64; k++) {
			const uint8_t *a = p + 32 + 32 * k;

			if ((k == 8 || k == 18) &&
			    (ckpt_get64(a) || ckpt_get64(a + 8) || ckpt_get64(a + 16) ||
			     ckpt_get64(a + 24)))
				return MUST_REFUSE;
			if (has_bits(ckpt_get64(a + 24), 1ULL << 8 | 1ULL << 18))
				return MUST_REFUSE;
		}
		return MAY_ACCEPT;	/* not restored yet (Documentation/restart.rst) */
	case R_TSTATE:
		if (!ckpt_get64(p) != !ckpt_get32(p + 8) || (!ckpt_get64(p) && ckpt_get32(p + 12)) ||
		    (ckpt_get32(p + 8) && ckpt_get32(p + 8) < 32))
			return MUST_REFUSE;
		if (!ckpt_get64(p + 16) != !ckpt_get64(p + 24))
			return MUST_REFUSE;
		if (ckpt_get32(p + 40) > 0777 || ckpt_get32(p + 44) > 64 ||
		    ckpt_get32(p + 48) != 16 || ckpt_get32(p + 52))
			return MUST_REFUSE;
		for (k = 0; k < 16; k++)
			if (ckpt_get64(p + 56 + 16 * k) > ckpt_get64(p + 64 + 16 * k))
				return MUST_REFUSE;
		return MAY_ACCEPT;	/* not restored yet */
	}
	return MUST_REFUSE;
}

static int known_type(uint16_t t)
{
	switch (t) {
	case R_TERM: case R_ENV: case R_TASKVEC: case R_TASK: case R_REGSET: case R_SIGNALS:
	case R_TSTATE: case R_FTABLE: case R_FILE: case R_FDATA: case R_MM: case R_VMA:
	case R_PAGES:
		return 1;
	}
	return 0;
}

/* Does a record of the seed refer to @id? */
static int referenced(uint64_t id)
{
	int i;

	for (i = 0; i < seed.n; i++) {
		const uint8_t *p = seed.b + seed.r[i].off + CKPT_RHDR_LEN;

		if ((seed.r[i].type == R_PAGES && ckpt_get64(p) == id) ||
		    (seed.r[i].type == R_VMA && ckpt_get64(p + 24) == id) ||
		    (seed.r[i].type == R_MM && ckpt_get64(p + 88) == id))
			return 1;
	}
	return 0;
}

/*
 * The class after a change of the record header of record @ri: a type no
 * reader knows, not critical, is skipped (the record is then missing); an id
 * still between its neighbours' of a record nothing names is fine.
 */
static int classify_header(const uint8_t *b, int ri, size_t ho)
{
	const struct rec *r = &seed.r[ri];
	const uint8_t *h = b + r->off;
	uint64_t id = ckpt_get64(h + 8), next = ~0ULL;

	if (ho < 2)
		return !known_type(ckpt_get16(h)) && !(ckpt_get16(h + 2) & 1) ? MAY_ACCEPT :
										  MUST_REFUSE;
	if (ho >= 8) {
		if (ri + 1 < seed.n && seed.r[ri + 1].type != R_TERM)
			next = seed.r[ri + 1].id;
		if (id > seed.r[ri - 1].id && id < next && !referenced(r->id))
			return MAY_ACCEPT;
	}
	return MUST_REFUSE;
}

static const char *tname(uint16_t t, const uint8_t *rec)
{
	switch (t) {
	case R_MM: return "MM";
	case R_VMA: return "VMA";
	case R_PAGES: return "PAGES";
	case R_REGSET:
		return ckpt_get32(rec + CKPT_RHDR_LEN) == NT_PRSTATUS ? "REGSET prstatus" :
		       "REGSET xstate";
	case R_SIGNALS: return "SIGNALS";
	case R_TSTATE: return "TASK_STATE";
	}
	return "?";
}

/* Changes byte @at (absolute) of a copy of the seed; @how 0 flip a bit, 1 overwrite. */
static void mutate_byte(struct __test_metadata *_metadata, int ri, size_t at, int how, int fix)
{
	const struct rec *r = &seed.r[ri];
	uint8_t *b = seed_copy();
	char name[160];
	int cls;
	uint8_t v;

	if (how == 0)
		v = b[at] ^ (1 << (rnd() % 8));
	else
		v = (uint8_t[]){ 0x00, 0xff, 0x80, 0x7f }[rnd() % 4] ^ (rnd() % 2 ? rnd() : 0);
	if (v == b[at])
		v ^= 1;
	b[at] = v;
	if (fix)
		fix_all(b, seed.len);
	if (!fix)
		cls = MUST_REFUSE;
	else if (at < r->off + CKPT_RHDR_LEN)
		cls = classify_header(b, ri, at - r->off);
	else if (r->type == R_PAGES && at >= r->off + CKPT_RHDR_LEN + 20 &&
		 at < r->off + CKPT_RHDR_LEN + 24)
		cls = MUST_REFUSE;	/* (the crc itself: left as mutated) */
	else
		cls = classify(b, ri, at - r->off - CKPT_RHDR_LEN);
	if (fix && r->type == R_PAGES && at >= r->off + CKPT_RHDR_LEN + 20 &&
	    at < r->off + CKPT_RHDR_LEN + 24) {
		b[at] = v;	/* fix_all recomputed it: corrupt it again */
		fix_term(b, seed.len);
	}
	snprintf(name, sizeof(name), "%s id %llu: %s byte %zu (+%zu) = %#x, CRCs %s",
		 tname(r->type, seed.b + r->off), (unsigned long long)r->id,
		 how ? "overwrite" : "flip", at - r->off, at, v, fix ? "recomputed" : "stale");
	judge(_metadata, b, seed.len, cls, name);
}

/* Truncations inside record @ri: the image cut there, or the record shortened. */
static void truncate_in(struct __test_metadata *_metadata, int ri)
{
	const struct rec *r = &seed.r[ri];
	char name[160];
	uint8_t *b;
	size_t cut;

	/* cut: the image ends inside the record */
	cut = r->off + 1 + rnd() % (r->len - 1);
	b = seed_copy();
	snprintf(name, sizeof(name), "%s id %llu: image cut at +%zu", tname(r->type, b + r->off),
		 (unsigned long long)r->id, cut - r->off);
	judge(_metadata, b, cut, MUST_REFUSE, name);

	/* the record shortened by 1..8 bytes (or a page), framing and CRCs fixed */
	for (int k = 0; k < 2; k++) {
		uint32_t by = k ? (r->type == R_PAGES ? PG : 8) : 1 + rnd() % 7;
		size_t len = seed.len - by;

		if (by >= r->len - CKPT_RHDR_LEN)
			continue;
		b = malloc(seed.len);
		memcpy(b, seed.b, r->off + r->len - by);
		memcpy(b + r->off + r->len - by, seed.b + r->off + r->len, seed.len - r->off - r->len);
		ckpt_put32(b + r->off + 4, r->len - by);
		fix_all(b, len);
		snprintf(name, sizeof(name), "%s id %llu: record shortened by %u bytes",
			 tname(r->type, b + r->off), (unsigned long long)r->id, by);
		judge(_metadata, b, len, MUST_REFUSE, name);
	}
}

/* A PAGES record with one page less (count and CRC fixed): a valid image. */
static void pages_drop_last(struct __test_metadata *_metadata, int ri)
{
	const struct rec *r = &seed.r[ri];
	uint32_t cnt = ckpt_get32(seed.b + r->off + CKPT_RHDR_LEN + 16);
	size_t len = seed.len - PG;
	uint8_t *b;

	if (cnt < 2)
		return;
	b = malloc(seed.len);
	memcpy(b, seed.b, r->off + r->len - PG);
	memcpy(b + r->off + r->len - PG, seed.b + r->off + r->len, seed.len - r->off - r->len);
	ckpt_put32(b + r->off + 4, r->len - PG);
	ckpt_put32(b + r->off + CKPT_RHDR_LEN + 16, cnt - 1);
	fix_all(b, len);
	judge(_metadata, b, len, MAY_ACCEPT, "PAGES: the last page dropped (count, CRC fixed)");
}

/*
 * Sets the @size-byte (8 or 4) field at payload offset @po of record @ri to
 * @v, fixes CRCs, judges.
 */
static void set_field(struct __test_metadata *_metadata, int ri, size_t po, uint64_t v,
		      int size, int cls, const char *what)
{
	uint8_t *b = seed_copy(), *at = b + seed.r[ri].off + CKPT_RHDR_LEN + po;
	char name[200];

	if (size == 8)
		ckpt_put64(at, v);
	else
		ckpt_put32(at, v);
	fix_all(b, seed.len);
	snprintf(name, sizeof(name), "%s = %#llx", what, (unsigned long long)v);
	judge(_metadata, b, seed.len, cls, name);
}

static void set64(struct __test_metadata *_metadata, int ri, size_t po, uint64_t v, int cls,
		  const char *what)
{
	set_field(_metadata, ri, po, v, 8, cls, what);
}

static void set32(struct __test_metadata *_metadata, int ri, size_t po, uint32_t v, int cls,
		  const char *what)
{
	set_field(_metadata, ri, po, v, 4, cls, what);
}

static const uint8_t *payload(int ri)
{
	return seed.b + seed.r[ri].off + CKPT_RHDR_LEN;
}

/* Structural mutations. */
static void structural(struct __test_metadata *_metadata)
{
	struct piece pc[MAXREC], q[MAXREC];
	uint8_t vbuf[CKPT_RHDR_LEN + VMA_LEN];
	int n = seed_pieces(pc), i, k, j, nq;
	int mm = find(R_MM, 0), pr = find_regset(NT_PRSTATUS), xs = find_regset(NT_XSTATE);
	int pages = find(R_PAGES, 0), sig = find(R_SIGNALS, 0), ts = find(R_TSTATE, 0);
	int first_vma = find(R_VMA, 0), last_vma = -1, nvma = 0;
	char name[200];
	size_t len;
	uint8_t *b;

	for (i = 0; i < seed.n; i++)
		if (seed.r[i].type == R_VMA) {
			last_vma = i;
			nvma++;
		}

	/* control: renumbered ids (gaps), nothing else */
	b = rebuild(pc, n, &len);
	judge(_metadata, b, len, MUST_ACCEPT, "control: ids renumbered 2, 4, 6...");

	/* VMAs overlapping, unaligned */
	for (i = first_vma + 1; i <= last_vma; i++) {
		const uint8_t *p = payload(i), *prev = payload(i - 1);

		snprintf(name, sizeof(name), "VMA id %llu: start at the previous VMA's start",
			 (unsigned long long)seed.r[i].id);
		set64(_metadata, i, 0, ckpt_get64(prev), MUST_REFUSE, name);
		snprintf(name, sizeof(name), "VMA id %llu: start a page into the previous VMA",
			 (unsigned long long)seed.r[i].id);
		set64(_metadata, i, 0, ckpt_get64(prev + 8) - PG, MUST_REFUSE, name);
		if (i < last_vma) {
			snprintf(name, sizeof(name), "VMA id %llu: end a page into the next VMA",
				 (unsigned long long)seed.r[i].id);
			set64(_metadata, i, 8, ckpt_get64(payload(i + 1)) + PG, MUST_REFUSE, name);
		}
		snprintf(name, sizeof(name), "VMA id %llu: start unaligned",
			 (unsigned long long)seed.r[i].id);
		set64(_metadata, i, 0, ckpt_get64(p) + 8, MUST_REFUSE, name);
		snprintf(name, sizeof(name), "VMA id %llu: end unaligned",
			 (unsigned long long)seed.r[i].id);
		set64(_metadata, i, 8, ckpt_get64(p + 8) - 0x800, MUST_REFUSE, name);
		snprintf(name, sizeof(name), "VMA id %llu: end = start",
			 (unsigned long long)seed.r[i].id);
		set64(_metadata, i, 8, ckpt_get64(p), MUST_REFUSE, name);
		if (ckpt_get16(p + 40) == 2) {
			snprintf(name, sizeof(name), "file VMA id %llu: file = the MM record",
				 (unsigned long long)seed.r[i].id);
			set64(_metadata, i, 24, seed.r[mm].id, MUST_REFUSE, name);
			snprintf(name, sizeof(name), "file VMA id %llu: file = its own id - 1 (a VMA or none)",
				 (unsigned long long)seed.r[i].id);
			set64(_metadata, i, 24, seed.r[i].id - 1, MUST_REFUSE, name);
			snprintf(name, sizeof(name), "file VMA id %llu: file = 0",
				 (unsigned long long)seed.r[i].id);
			set64(_metadata, i, 24, 0, MUST_REFUSE, name);
			/* a character device (fd 0, /dev/null) mapped */
			for (k = 0; (j = find(R_FILE, k)) >= 0; k++)
				if (ckpt_get16(payload(j)) == 4) {
					snprintf(name, sizeof(name), "file VMA id %llu: file = the character device record %llu",
						 (unsigned long long)seed.r[i].id,
						 (unsigned long long)seed.r[j].id);
					set64(_metadata, i, 24, seed.r[j].id, MUST_REFUSE, name);
					break;
				}
			snprintf(name, sizeof(name), "file VMA id %llu: offset unaligned",
				 (unsigned long long)seed.r[i].id);
			set64(_metadata, i, 16, ckpt_get64(p + 16) + 100, MUST_REFUSE, name);
		} else if (ckpt_get16(p + 40) == 1) {
			snprintf(name, sizeof(name), "anon VMA id %llu: a file reference",
				 (unsigned long long)seed.r[i].id);
			set64(_metadata, i, 24, seed.r[mm].id - 1, MUST_REFUSE, name);
			snprintf(name, sizeof(name), "anon VMA id %llu: kind file, no file",
				 (unsigned long long)seed.r[i].id);
			set32(_metadata, i, 40, 2, MUST_REFUSE, name);
		}
	}

	/* a VMA above TASK_SIZE_MAX, in the kernel, non-canonical: inserted last */
	{
		static const uint64_t where[][2] = {
			{ TASK_SIZE_MAX, TASK_SIZE_MAX + PG },
			{ TASK_SIZE_MAX - PG, TASK_SIZE_MAX + PG },
			{ 1ULL << 47, (1ULL << 47) + PG },
			{ 0xffff888000000000ULL, 0xffff888000001000ULL },
			{ 0xffffffffff600000ULL, 0xffffffffff601000ULL },
			{ 0xfffffffffffff000ULL, 0 },
		};

		for (k = 0; k < 6; k++) {
			memcpy(vbuf, seed.b + seed.r[last_vma].off, sizeof(vbuf));
			memset(vbuf + CKPT_RHDR_LEN, 0, VMA_LEN);
			ckpt_put64(vbuf + CKPT_RHDR_LEN, where[k][0]);
			ckpt_put64(vbuf + CKPT_RHDR_LEN + 8, where[k][1]);
			ckpt_put32(vbuf + CKPT_RHDR_LEN + 32, 3);
			ckpt_put16(vbuf + CKPT_RHDR_LEN + 40, 1);
			nq = 0;
			for (i = 0; i < n; i++) {
				q[nq++] = pc[i];
				if (i == last_vma)
					q[nq++] = (struct piece){ vbuf, sizeof(vbuf) };
			}
			b = rebuild(q, nq, &len);
			snprintf(name, sizeof(name), "an anonymous VMA %llx-%llx inserted last",
				 (unsigned long long)where[k][0], (unsigned long long)where[k][1]);
			judge(_metadata, b, len, MUST_REFUSE, name);
		}
	}

	/* a VMA over this process's vDSO, the image's vDSO and vvar dropped: phase A refuses */
	for (k = 0; k < 2 && vdso_s; k++) {
		int placed = 0, clash = 0;

		memcpy(vbuf, seed.b + seed.r[first_vma].off, sizeof(vbuf));
		memset(vbuf + CKPT_RHDR_LEN, 0, VMA_LEN);
		ckpt_put64(vbuf + CKPT_RHDR_LEN, vdso_s);
		ckpt_put64(vbuf + CKPT_RHDR_LEN + 8, vdso_e);
		ckpt_put32(vbuf + CKPT_RHDR_LEN + 32, 3);
		ckpt_put16(vbuf + CKPT_RHDR_LEN + 40, 1);
		nq = 0;
		for (i = 0; i < n; i++) {
			const uint8_t *p = payload(i);

			if (seed.r[i].type == R_VMA) {
				uint16_t kind = ckpt_get16(p + 40);

				if (k == 0 && (kind == 5 || kind == 6))
					continue;
				if (ckpt_get64(p) < vdso_e && vdso_s < ckpt_get64(p + 8))
					clash = 1;
				if (!placed && ckpt_get64(p) >= vdso_e) {
					q[nq++] = (struct piece){ vbuf, sizeof(vbuf) };
					placed = 1;
				}
			}
			if (!placed && seed.r[i].type != R_VMA && i > last_vma) {
				q[nq++] = (struct piece){ vbuf, sizeof(vbuf) };
				placed = 1;
			}
			q[nq++] = pc[i];
		}
		if (clash)
			continue;
		b = rebuild(q, nq, &len);
		if (k == 0)
			judge(_metadata, b, len, MUST_REFUSE,
			      "an anonymous VMA over this process's [vdso], no vDSO in the image");
		else
			judge(_metadata, b, len, COMMIT_REFUSE,
			      "an anonymous VMA over this process's [vdso], the image's vDSO kept");
	}

	/* PAGES outside their VMA, for no VMA, before their VMA */
	for (k = 0; (i = find(R_PAGES, k)) >= 0 && k < 3; k++) {
		const uint8_t *p = payload(i);
		int v = find_id(ckpt_get64(p));
		uint32_t cnt = ckpt_get32(p + 16);

		if (v < 0)
			continue;
		snprintf(name, sizeof(name), "PAGES id %llu: start at its VMA's end",
			 (unsigned long long)seed.r[i].id);
		set64(_metadata, i, 8, ckpt_get64(payload(v) + 8), MUST_REFUSE, name);
		snprintf(name, sizeof(name), "PAGES id %llu: start a page below its VMA",
			 (unsigned long long)seed.r[i].id);
		set64(_metadata, i, 8, ckpt_get64(payload(v)) - PG, MUST_REFUSE, name);
		snprintf(name, sizeof(name), "PAGES id %llu: end a page past its VMA",
			 (unsigned long long)seed.r[i].id);
		set64(_metadata, i, 8, ckpt_get64(payload(v) + 8) - (uint64_t)cnt * PG + PG,
		      MUST_REFUSE, name);
		snprintf(name, sizeof(name), "PAGES id %llu: start unaligned",
			 (unsigned long long)seed.r[i].id);
		set64(_metadata, i, 8, ckpt_get64(p + 8) + 16, MUST_REFUSE, name);
		snprintf(name, sizeof(name), "PAGES id %llu: vma = the MM record",
			 (unsigned long long)seed.r[i].id);
		set64(_metadata, i, 0, seed.r[mm].id, MUST_REFUSE, name);
		snprintf(name, sizeof(name), "PAGES id %llu: vma = the prstatus record",
			 (unsigned long long)seed.r[i].id);
		set64(_metadata, i, 0, seed.r[pr].id, MUST_REFUSE, name);
		snprintf(name, sizeof(name), "PAGES id %llu: vma = its own id (forward)",
			 (unsigned long long)seed.r[i].id);
		set64(_metadata, i, 0, seed.r[i].id, MUST_REFUSE, name);
		snprintf(name, sizeof(name), "PAGES id %llu: count 0",
			 (unsigned long long)seed.r[i].id);
		set32(_metadata, i, 16, 0, MUST_REFUSE, name);
		/* for a VMA kind whose pages are not dumped, the vDSO */
		for (j = first_vma; j <= last_vma; j++)
			if (ckpt_get16(payload(j) + 40) == 5) {
				snprintf(name, sizeof(name), "PAGES id %llu: vma = the vDSO's VMA, start at the vDSO",
					 (unsigned long long)seed.r[i].id);
				b = seed_copy();
				ckpt_put64(b + seed.r[i].off + CKPT_RHDR_LEN, seed.r[j].id);
				ckpt_put64(b + seed.r[i].off + CKPT_RHDR_LEN + 8, ckpt_get64(payload(j)));
				ckpt_put32(b + seed.r[i].off + CKPT_RHDR_LEN + 16, 1);
				ckpt_put32(b + seed.r[i].off + 4, CKPT_RHDR_LEN + 24 + PG);
				/* shorten the record to one page */
				memmove(b + seed.r[i].off + CKPT_RHDR_LEN + 24 + PG,
					b + seed.r[i].off + seed.r[i].len,
					seed.len - seed.r[i].off - seed.r[i].len);
				len = seed.len - (seed.r[i].len - (CKPT_RHDR_LEN + 24 + PG));
				fix_all(b, len);
				judge(_metadata, b, len, MUST_REFUSE, name);
				break;
			}
		/* its VMA dropped (the reference then names no record) */
		nq = 0;
		for (j = 0; j < n; j++)
			if (j != v)
				q[nq++] = pc[j];
		b = rebuild(q, nq, &len);
		snprintf(name, sizeof(name), "PAGES id %llu: its VMA record dropped",
			 (unsigned long long)seed.r[i].id);
		judge(_metadata, b, len, MUST_REFUSE, name);
		/* moved right before its VMA (a forward reference) */
		nq = 0;
		for (j = 0; j < n; j++) {
			if (j == i)
				continue;
			if (j == v)
				q[nq++] = pc[i];
			q[nq++] = pc[j];
		}
		b = rebuild(q, nq, &len);
		snprintf(name, sizeof(name), "PAGES id %llu: moved before its VMA",
			 (unsigned long long)seed.r[i].id);
		judge(_metadata, b, len, MUST_REFUSE, name);
		/* duplicated: the same pages twice */
		nq = 0;
		for (j = 0; j < n; j++) {
			q[nq++] = pc[j];
			if (j == i)
				q[nq++] = pc[i];
		}
		b = rebuild(q, nq, &len);
		snprintf(name, sizeof(name), "PAGES id %llu: duplicated",
			 (unsigned long long)seed.r[i].id);
		judge(_metadata, b, len, MUST_REFUSE, name);
	}

	/* duplicated and missing records */
	{
		static const char *const what[] = { "MM", "prstatus REGSET", "xstate REGSET",
						     "SIGNALS", "TASK_STATE", "a VMA" };
		int idx[] = { mm, pr, xs, sig, ts, first_vma };

		for (k = 0; k < 6; k++) {
			if (idx[k] < 0)
				continue;
			nq = 0;
			for (j = 0; j < n; j++) {
				q[nq++] = pc[j];
				if (j == idx[k])
					q[nq++] = pc[j];
			}
			b = rebuild(q, nq, &len);
			snprintf(name, sizeof(name), "a second %s record", what[k]);
			judge(_metadata, b, len, MUST_REFUSE, name);
			nq = 0;
			for (j = 0; j < n; j++)
				if (j != idx[k])
					q[nq++] = pc[j];
			b = rebuild(q, nq, &len);
			snprintf(name, sizeof(name), "no %s record", what[k]);
			/* signals, task state, xstate, a VMA without pages: optional */
			judge(_metadata, b, len,
			      (k >= 2 && k <= 4) || (k == 5 && !referenced(seed.r[idx[k]].id)) ?
			      MAY_ACCEPT : MUST_REFUSE, name);
		}
	}

	/* registers */
	if (pr >= 0) {
		static const struct {
			int reg;
			uint64_t v;
			int cls;
			const char *what;
		} rv[] = {
			{ CS, 0x23, MUST_REFUSE, "cs (32-bit)" },
			{ CS, 0x10, MUST_REFUSE, "cs (kernel)" },
			{ CS, 0x2b, MUST_REFUSE, "cs" },
			{ SS, 0x33, MUST_REFUSE, "ss" },
			{ SS, 0x18, MUST_REFUSE, "ss (kernel)" },
			{ DS, 0x2b, MUST_REFUSE, "ds" },
			{ GS, 0x2b, MUST_REFUSE, "gs selector" },
			{ RIP, 1ULL << 47, MUST_REFUSE, "rip (non-canonical)" },
			{ RIP, 0xffffffff81000000ULL, MUST_REFUSE, "rip (kernel)" },
			{ RIP, TASK_SIZE_MAX, MUST_REFUSE, "rip (TASK_SIZE_MAX)" },
			{ RIP, 0x8000000000000000ULL, MUST_REFUSE, "rip" },
			{ RSP, 0xffff888000000000ULL, MUST_REFUSE, "rsp (kernel)" },
			{ FS_BASE, 0xffff888000000000ULL, MUST_REFUSE, "fs base (kernel)" },
			{ GS_BASE, 1ULL << 63, MUST_REFUSE, "gs base (non-canonical)" },
			{ R13, 0x1122334455667788ULL, MUST_ACCEPT, "r13" },
			{ RBX, 0xffffffffffffffffULL, MUST_ACCEPT, "rbx" },
			{ R15, 0xffff888000000000ULL, MUST_ACCEPT, "r15 (a kernel address)" },
			{ RDX, 0, MUST_ACCEPT, "rdx" },
			{ FS_BASE, 0x10000, MUST_ACCEPT, "fs base" },
			{ GS_BASE, TASK_SIZE_MAX - 8, MUST_ACCEPT, "gs base" },
			{ RSP, 0x1000, MUST_ACCEPT, "rsp (unused by the child)" },
		};
		const uint8_t *p = payload(pr);

		for (k = 0; k < (int)(sizeof(rv) / sizeof(rv[0])); k++) {
			snprintf(name, sizeof(name), "prstatus %s", rv[k].what);
			set64(_metadata, pr, 8 + 8 * rv[k].reg, rv[k].v, rv[k].cls, name);
		}
		set64(_metadata, pr, 8 + 8 * EFLAGS, ckpt_get64(p + 8 + 8 * EFLAGS) ^ 0x400,
		      MUST_ACCEPT, "prstatus eflags DF toggled");
		/* the note of prstatus: unknown (skipped: none left), xstate's (two of those) */
		set32(_metadata, pr, 0, 0x999, MUST_REFUSE, "prstatus note");
		if (xs >= 0) {
			set32(_metadata, pr, 0, NT_XSTATE, MUST_REFUSE, "prstatus note (NT_X86_XSTATE)");
			set32(_metadata, xs, 0, NT_PRSTATUS, MUST_REFUSE, "xstate note (NT_PRSTATUS)");
		}
	}
	if (xs >= 0) {
		const uint8_t *p = payload(xs) + 8;
		uint32_t mx = ckpt_get32(p + 24);

		set32(_metadata, xs, 8 + 24, mx | 1 << 16, MUST_REFUSE, "MXCSR bit 16");
		set32(_metadata, xs, 8 + 24, mx | 1U << 31, MUST_REFUSE, "MXCSR bit 31");
		set32(_metadata, xs, 8 + 24, mx ^ 0x40, MUST_ACCEPT, "MXCSR DAZ toggled");
		set64(_metadata, xs, 8 + 520, 1ULL << 63, MUST_REFUSE, "XCOMP_BV compacted");
		set64(_metadata, xs, 8 + 520, 3, MUST_REFUSE, "XCOMP_BV 3");
		set64(_metadata, xs, 8 + 536, 1, MUST_REFUSE, "XSAVE header reserved byte");
		set64(_metadata, xs, 8 + 568, 1ULL << 56, MUST_REFUSE, "XSAVE header last reserved byte");
		set64(_metadata, xs, 8 + 512, ckpt_get64(p + 512) | 1ULL << 62, MUST_REFUSE,
		      "XSTATE_BV bit 62");
		set64(_metadata, xs, 8 + 512, ckpt_get64(p + 512) | 1ULL << 18, MUST_REFUSE,
		      "XSTATE_BV bit 18 (AMX tile data)");
		set64(_metadata, xs, 8 + 160 + 3 * 16, 0x0123456789abcdefULL, MUST_ACCEPT, "xmm3 low");
		set64(_metadata, xs, 8 + 160 + 15 * 16 + 8, ~0ULL, MUST_ACCEPT, "xmm15 high");
		set32(_metadata, xs, 4, ckpt_get32(payload(xs) + 4) - 64, MUST_REFUSE,
		      "xstate len 64 less than its record");
	}

	/* a page byte, an MM field */
	if (pages >= 0) {
		set64(_metadata, pages, 24 + 200, 0x5a5a5a5a5a5a5a5aULL, MUST_ACCEPT,
		      "first PAGES record: data at 200");
	}
	if (mm >= 0) {
		const uint8_t *p = payload(mm);

		set64(_metadata, mm, 8, ckpt_get64(p) - 1, ckpt_get64(p) ? MUST_REFUSE : MAY_ACCEPT,
		      "MM end_code below start_code");
		set64(_metadata, mm, 88, 0, MAY_ACCEPT, "MM exe_file = 0 (none)");
		set64(_metadata, mm, 88, seed.r[0].id, MUST_REFUSE, "MM exe_file = the environment vector");
		set64(_metadata, mm, 88, seed.r[mm].id, MUST_REFUSE, "MM exe_file = itself");
		set32(_metadata, mm, 104, ckpt_get32(p + 104) + PG, MUST_REFUSE, "MM vdso_len");
		set32(_metadata, mm, 108, ckpt_get32(p + 108) ^ 1, MUST_REFUSE, "MM vdso_crc");
		set32(_metadata, mm, 116, ckpt_get32(p + 116) + 1, MUST_REFUSE, "MM auxv_count");
		set64(_metadata, mm, 48, TASK_SIZE_MAX + PG, MUST_REFUSE, "MM start_stack above TASK_SIZE_MAX");
		set64(_metadata, mm, 40, ckpt_get64(p + 32) + 2 * DATA_LIMIT, MUST_REFUSE,
		      "MM brk over the caller's RLIMIT_DATA");
		set64(_metadata, mm, 40, ckpt_get64(p + 32) + PG, MAY_ACCEPT, "MM brk a page up");
	}
}

/* Are the pages of PAGES record @ri in an executable VMA (code: not changed)? */
static int exec_pages(int ri)
{
	int v = find_id(ckpt_get64(payload(ri)));

	return v < 0 || (ckpt_get32(payload(v) + 32) & 4);
}

/* Random flips, overwrites and truncations in each record of interest. */
static void random_mutations(struct __test_metadata *_metadata, int scale)
{
	int i, k, pages_seen = 0, vmas_seen = 0;

	for (i = 0; i < seed.n; i++) {
		const struct rec *r = &seed.r[i];
		int times;

		switch (r->type) {
		case R_MM: case R_SIGNALS: case R_TSTATE:
			times = 12;
			break;
		case R_REGSET:
			times = 16;
			break;
		case R_VMA:
			times = vmas_seen++ < 8 ? 5 : 1;
			break;
		case R_PAGES:
			times = pages_seen++ < 3 ? 8 : 1;
			break;
		default:
			continue;
		}
		times *= scale;
		for (k = 0; k < times; k++) {
			size_t span, at;

			/* header and the first 24 payload bytes often, else anywhere */
			span = r->type == R_PAGES && k % 2 ? CKPT_RHDR_LEN + 24 : r->len;
			if (r->type == R_REGSET && k % 2)
				span = r->len < CKPT_RHDR_LEN + 8 + 600 ? r->len : CKPT_RHDR_LEN + 8 + 600;
			at = r->off + rnd() % span;
			mutate_byte(_metadata, i, at, k % 3 == 2, 0);
			at = r->off + rnd() % span;
			mutate_byte(_metadata, i, at, k % 3 == 2, 1);
			if (r->type == R_PAGES && !exec_pages(i)) {
				/* page data: CRC recomputed, must be accepted */
				at = r->off + CKPT_RHDR_LEN + 24 + rnd() % (r->len - CKPT_RHDR_LEN - 24);
				mutate_byte(_metadata, i, at, 1, 1);
			}
		}
		truncate_in(_metadata, i);
		if (r->type == R_PAGES && pages_seen <= 3)
			pages_drop_last(_metadata, i);
	}
}

/* ---- the seed: the -nostdlib child, checkpointed at its second stop ---- */

FIXTURE(ph) {
	char dir[64];
	pid_t child;
};

FIXTURE_SETUP(ph)
{
	char here[PATH_MAX], path[PATH_MAX + 64], prog[128], line[512];
	char *argv[] = { prog, NULL };
	int out;
	struct stat sb;
	FILE *f;

	self->child = -1;
	ckpt_exe_dir(here, sizeof(here));
	devfd = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_GE(devfd, 0);
	strcpy(self->dir, "/tmp/ckpt-ph-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	ASSERT_EQ(0, mount("tmpfs", self->dir, "tmpfs", 0, "size=16m"));
	snprintf(prog, sizeof(prog), "%s/child", self->dir);
	snprintf(path, sizeof(path), "%s/ckpt_process_child", here);
	ASSERT_EQ(0, ckpt_copy_file(path, prog, 0755)) TH_LOG("copying %s", path);

	ckpt_spawn_reporting(_metadata, argv, &self->child, &info, sizeof(info));
	ASSERT_EQ(0, ckpt_run_to_stop(self->child));

	out = memfd_create("seed", 0);
	ASSERT_GE(out, 0);
	ckpt_dump_process(_metadata, devfd, self->child, out);
	ASSERT_EQ(0, fstat(out, &sb));
	seed.len = sb.st_size;
	seed.b = malloc(seed.len);
	ASSERT_EQ((ssize_t)seed.len, pread(out, seed.b, seed.len, 0));
	close(out);
	ASSERT_EQ(NULL, ckpt_image_whole(seed.b, seed.len));
	ASSERT_GT(walk(&seed), 0);
	ckpt_kill_child(&self->child);

	f = fopen("/proc/self/maps", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (strstr(line, "[vdso]") && sscanf(line, "%lx-%lx", &s, &e) == 2) {
			vdso_s = s;
			vdso_e = e;
		}
	}
	fclose(f);
}

FIXTURE_TEARDOWN(ph)
{
	ckpt_kill_child(&self->child);
	umount2(self->dir, MNT_DETACH);
	rmdir(self->dir);
	close(devfd);
	free(seed.b);
}

TEST_F_TIMEOUT(ph, hostile_process_images, 900)
{
	const char *s = getenv("CKPT_HOSTILE_SCALE");
	int scale = s ? atoi(s) : 1, i;
	uint8_t *b;
	size_t len;
	struct piece pc[MAXREC];

	verbose = getenv("CKPT_HOSTILE_VERBOSE") != NULL;
	if (scale < 1)
		scale = 1;
	for (i = 0; i < seed.n; i++)
		if (verbose)
			TH_LOG("seed record %d: type %#x id %llu len %u at %zu", i, seed.r[i].type,
			       (unsigned long long)seed.r[i].id, seed.r[i].len, seed.r[i].off);
	ASSERT_GE(find(R_MM, 0), 0);
	ASSERT_GE(find_regset(NT_PRSTATUS), 0);
	ASSERT_GE(find(R_PAGES, 0), 0);

	/* the seed itself, and rebuilt unchanged: restored exactly */
	judge(_metadata, seed_copy(), seed.len, MUST_ACCEPT, "the seed image");
	b = rebuild(pc, seed_pieces(pc), &len);
	ASSERT_EQ(seed.len, len);
	ASSERT_EQ(NULL, ckpt_image_whole(b, len));
	free(b);

	structural(_metadata);
	random_mutations(_metadata, scale);

	TH_LOG("%d images: %d refused, %d accepted (%d restored and verified, %d refused by phase B, %d refused by XRSTOR); %d failures",
	       st.images, st.refused, st.accepted, st.verified, st.commit_refused,
	       st.xrstor_refused, st.failures);
	EXPECT_EQ(0, st.failures);
	EXPECT_GT(st.verified, 0);
}

TEST_HARNESS_MAIN
