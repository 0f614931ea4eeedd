// SPDX-License-Identifier: GPL-2.0
/*
 * CKPT_IOC_CHECKPOINT with CKPT_CHECKPOINT_PROCESS: the signals and
 * task_state records (and the task record's comm) of a stopped tracee,
 * checked value by value against sources independent of the module:
 * /proc/PID/status (SigBlk, SigIgn, SigCgt, SigPnd, ShdPnd, Umask, Name),
 * /proc/PID/limits and prlimit(2), PTRACE_GET_RSEQ_CONFIGURATION,
 * get_robust_list(2), and the child's own system calls reported over a pipe
 * (rt_sigaction for all 64 signals, sigaltstack, rt_sigprocmask,
 * PR_GET_TID_ADDRESS, PR_GET_PDEATHSIG). The image is parsed here from the
 * spec (Documentation/image-format.rst), not with the codec under test.
 *
 * The child is this very program, statically linked against glibc (which
 * registers an rseq area and a robust futex list) and copied onto a tmpfs
 * (so that its one mapped file has a checkpoint implementation),
 * re-executed with "--child FD SCENARIO DIR".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/ckpt.h>

#include "kselftest_harness.h"
#include "ckpt_selftest.h"

#define HEADER_LEN 304
#define NSIG_K 64
#define NLIMITS 16
#define ALTSTACK_LEN (64 * 1024)
#define COMM "ckpt-sig-comm"

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

/* PTRACE_GET_RSEQ_CONFIGURATION (0x420f) and its struct, as include/uapi/linux/ptrace.h */
struct rseq_config {
	uint64_t rseq_abi_pointer;
	uint32_t rseq_abi_size;
	uint32_t signature;
	uint32_t flags;
	uint32_t pad;
};

/* The kernel's struct sigaction on x86_64, as rt_sigaction(2) reads it. */
struct ksigaction {
	uint64_t handler, flags, restorer, mask;
};

/* What the child reports, from its own system calls. */
struct child_info {
	struct ksigaction action[NSIG_K];	/* signal 1 first */
	uint64_t blocked;
	uint64_t ss_sp, ss_size;
	int32_t ss_flags;
	int32_t pdeath;
	uint64_t tid_address;			/* PR_GET_TID_ADDRESS */
};

/* ---- the child ---- */

static void on_usr1(int sig)
{
	(void)sig;
}

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
}

static int child_main(char **argv)
{
	int ready = atoi(argv[2]);
	const char *what = argv[3];
	struct child_info info;
	struct sigaction sa;
	struct rlimit rl;
	sigset_t set;
	stack_t ss;

	ckpt_unmap_harness_pages();
	memset(&info, 0, sizeof(info));
	/* blocked: SIGUSR2 and signal 36 (kernel numbering; glibc's SIGRTMIN is 34) */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, 36);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		exit(10);
	/* a handler with SA_RESTART | SA_ONSTACK and a mask of SIGTERM and signal 40 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaddset(&sa.sa_mask, 40);
	if (sigaction(SIGUSR1, &sa, NULL))
		exit(11);
	/* an SA_SIGINFO handler for a real-time signal */
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_rt;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	if (sigaction(38, &sa, NULL))
		exit(12);
	/* ignored */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || signal(SIGWINCH, SIG_IGN) == SIG_ERR)
		exit(13);
	/* an alternate stack */
	ss.ss_sp = mmap(NULL, ALTSTACK_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	ss.ss_size = ALTSTACK_LEN;
	ss.ss_flags = SS_AUTODISARM;
	if (ss.ss_sp == MAP_FAILED || sigaltstack(&ss, NULL))
		exit(14);
	umask(027);
	if (prctl(PR_SET_NAME, COMM, 0, 0, 0) || prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0))
		exit(15);
	/* RLIMIT_NOFILE soft limit lowered, a custom RLIMIT_CORE */
	if (getrlimit(RLIMIT_NOFILE, &rl))
		exit(16);
	rl.rlim_cur = 77;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		exit(17);
	rl.rlim_cur = 3 * 4096;
	rl.rlim_max = 1 << 20;
	if (setrlimit(RLIMIT_CORE, &rl))
		exit(18);

	if (!strcmp(what, "pending")) {
		/* a private pending signal and a process-wide one, both blocked */
		if (raise(SIGUSR2) || kill(getpid(), 36))
			exit(19);
	}

	/* report, from the child's own system calls */
	for (int sig = 1; sig <= NSIG_K; sig++)
		if (syscall(SYS_rt_sigaction, sig, NULL, &info.action[sig - 1], 8))
			exit(20);
	if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &info.blocked, 8))
		exit(21);
	if (sigaltstack(NULL, &ss))
		exit(22);
	info.ss_sp = (uintptr_t)ss.ss_sp;
	info.ss_size = ss.ss_size;
	info.ss_flags = ss.ss_flags;
	if (prctl(PR_GET_PDEATHSIG, &info.pdeath, 0, 0, 0))
		exit(23);
	if (prctl(PR_GET_TID_ADDRESS, &info.tid_address, 0, 0, 0))
		exit(24);
	if (write(ready, &info, sizeof(info)) != sizeof(info))
		return 1;
	close(ready);
	if (!strcmp(what, "sigsuspend")) {
		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		for (;;)
			sigsuspend(&set);	/* a temporary mask while it waits */
	}
	for (;;)
		pause();
}

/* ---- the image, parsed from the spec ---- */

struct vma_rec {
	uint64_t id, start, end;
	uint32_t prot, flags;
	uint16_t kind;
	uint64_t pages;
};

struct page_rec {
	uint64_t vma, start;
	uint32_t count;
	const uint8_t *data;
};

struct image {
	uint8_t *buf;
	size_t len;
	const uint8_t *task, *signals, *task_state;	/* payloads */
	uint32_t signals_len, task_state_len;
	int regset_seen, pages_seen, order_ok;
	struct vma_rec vma[256];
	int nvma;
	struct page_rec page[4096];
	int npages;
	uint64_t total_pages;
};

/* Splits the image into records; returns an error message or NULL. */
static const char *parse_image(struct image *im)
{
	size_t at = HEADER_LEN;

	im->order_ok = 1;
	while (at + 16 <= im->len) {
		const uint8_t *r = im->buf + at;
		uint16_t type = r[0] | r[1] << 8, flags = r[2] | r[3] << 8;
		uint32_t len = ckpt_get32(r + 4);
		const uint8_t *p = r + 16;

		if (len < 16 || at + len > im->len)
			return "record runs past the image";
		if (type == 1)
			return at + len == im->len ? NULL : "bytes after the terminator";
		if ((type == 0x12 || type == 0x13) && flags != 0)
			return "signals/task_state record with flags other than 0";
		if (type == 0x10) {
			im->task = p;
		} else if (type == 0x11) {
			im->regset_seen = 1;
		} else if (type == 0x31 && len == 16 + 48 && im->nvma < 256) {
			struct vma_rec *v = &im->vma[im->nvma++];

			v->id = ckpt_get64(r + 8);
			v->start = ckpt_get64(p);
			v->end = ckpt_get64(p + 8);
			v->prot = ckpt_get32(p + 32);
			v->flags = ckpt_get32(p + 36);
			v->kind = p[40] | p[41] << 8;
		} else if (type == 0x32) {
			struct page_rec *pg = &im->page[im->npages];

			im->pages_seen = 1;
			if (im->npages == 4096)
				return "too many pages records for this test";
			im->npages++;
			pg->vma = ckpt_get64(p);
			pg->start = ckpt_get64(p + 8);
			pg->count = ckpt_get32(p + 16);
			pg->data = p + 24;
			if (len != 16 + 24 + pg->count * 4096UL)
				return "pages record length";
			im->total_pages += pg->count;
			for (int i = 0; i < im->nvma; i++)
				if (im->vma[i].id == pg->vma)
					im->vma[i].pages += pg->count;
		} else if (type == 0x12) {
			im->signals = p;
			im->signals_len = len - 16;
			/* after the registers, before the pages */
			if (!im->regset_seen || im->pages_seen)
				im->order_ok = 0;
		} else if (type == 0x13) {
			im->task_state = p;
			im->task_state_len = len - 16;
			if (!im->signals || im->pages_seen)
				im->order_ok = 0;
		}
		at += len;
	}
	return "no terminator";
}

/* ---- the test ---- */

FIXTURE(sig) {
	struct ckpt_child c;	/* dev, dir, prog, image, pid, args, rc, err, log */
	struct child_info info;
	struct image im;
};

FIXTURE_SETUP(sig)
{
	ckpt_child_setup(_metadata, &self->c, "ckpt-sig");
}

FIXTURE_TEARDOWN(sig)
{
	ckpt_child_teardown(&self->c);
}

/* Starts the child in @scenario and stops it under ptrace. */
static void start(struct __test_metadata *_metadata, FIXTURE_DATA(sig) *self, const char *scenario)
{
	ckpt_child_start(_metadata, &self->c, scenario, &self->info, sizeof(self->info));
}

/* Checkpoints the child with CKPT_CHECKPOINT_PROCESS into the image file and reads it back. */
static void dump(struct __test_metadata *_metadata, FIXTURE_DATA(sig) *self)
{
	ckpt_child_dump(_metadata, &self->c, CKPT_CHECKPOINT_PROCESS, -1);
	memset(&self->im, 0, sizeof(self->im));
	self->im.buf = self->c.buf;
	self->im.len = self->c.len;
}

/* The value of "Key:" in /proc/PID/status, as a string (NULL if absent). */
static char *status_field(pid_t pid, const char *key, char *out, size_t size)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	char *found = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			char *v = line + klen + 1;

			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = 0;
			snprintf(out, size, "%s", v);
			found = out;
			break;
		}
	}
	if (f)
		fclose(f);
	return found;
}

static uint64_t status_hex(struct __test_metadata *_metadata, pid_t pid, const char *key)
{
	char buf[64];

	if (!status_field(pid, key, buf, sizeof(buf))) {
		TH_LOG("no %s in /proc/%d/status", key, pid);
		return ~0ULL;
	}
	return strtoull(buf, NULL, 16);
}

/* "Max open files  77  4096  files" in /proc/PID/limits: soft and hard. */
static int proc_limit(pid_t pid, const char *name, char *soft, char *hard)
{
	char path[64], line[256];
	int ok = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, name, strlen(name))) {
			ok = sscanf(line + 26, "%31s %31s", soft, hard) == 2;
			break;
		}
	}
	if (f)
		fclose(f);
	return ok;
}

static void rlim_string(uint64_t v, char *out)
{
	if (v == ~0ULL)
		strcpy(out, "unlimited");
	else
		sprintf(out, "%" PRIu64, v);
}

TEST_F_TIMEOUT(sig, signal_and_task_state_match_the_kernel, 120)
{
	const struct child_info *ci = &self->info;
	uint64_t ignored = 0, handled = 0, blocked;
	struct rseq_config rseq;
	const uint8_t *usr1;
	struct image *im = &self->im;
	const uint8_t *s, *t;
	char buf[64], soft[32], hard[32], want[32];
	const char *err;
	uint64_t head, len;

	start(_metadata, self, "state");
	dump(_metadata, self);
	ASSERT_EQ(0, self->c.rc) TH_LOG("errno %d: %s", self->c.err, self->c.log);
	err = parse_image(im);
	ASSERT_EQ(NULL, err) TH_LOG("%s", err);
	ASSERT_NE(NULL, im->task);
	ASSERT_NE(NULL, im->signals);
	ASSERT_NE(NULL, im->task_state);
	ASSERT_EQ(32U + 64 * 32, im->signals_len);
	ASSERT_EQ(56U + 16 * 16, im->task_state_len);
	EXPECT_TRUE(im->order_ok) TH_LOG("signals, task_state not between regsets and pages");
	s = im->signals;
	t = im->task_state;

	/* blocked: /proc (SigBlk) and the child's rt_sigprocmask */
	blocked = ckpt_get64(s);
	EXPECT_EQ(status_hex(_metadata, self->c.pid, "SigBlk"), blocked);
	EXPECT_EQ(ci->blocked, blocked);
	EXPECT_EQ((1ULL << (SIGUSR2 - 1)) | (1ULL << 35), blocked & ((1ULL << (SIGUSR2 - 1)) | (1ULL << 35)));
	/* nothing pending */
	EXPECT_EQ(0ULL, status_hex(_metadata, self->c.pid, "SigPnd"));
	EXPECT_EQ(0ULL, status_hex(_metadata, self->c.pid, "ShdPnd"));

	/* the altstack: the child's sigaltstack(NULL, &old) */
	EXPECT_EQ(ci->ss_sp, ckpt_get64(s + 8));
	EXPECT_EQ(ci->ss_size, ckpt_get64(s + 16));
	EXPECT_EQ((uint32_t)ci->ss_flags, ckpt_get32(s + 24));
	EXPECT_EQ((uint64_t)ALTSTACK_LEN, ckpt_get64(s + 16));
	EXPECT_EQ((uint32_t)SS_AUTODISARM, ckpt_get32(s + 24));
	EXPECT_EQ(64U, ckpt_get32(s + 28));

	/* every action: the child's rt_sigaction(sig, NULL, &old); SigIgn and SigCgt */
	for (int sig = 1; sig <= NSIG_K; sig++) {
		const uint8_t *a = s + 32 + (sig - 1) * 32;
		const struct ksigaction *k = &ci->action[sig - 1];

		EXPECT_EQ(k->handler, ckpt_get64(a)) TH_LOG("signal %d handler", sig);
		EXPECT_EQ(k->flags, ckpt_get64(a + 8)) TH_LOG("signal %d flags", sig);
		EXPECT_EQ(k->restorer, ckpt_get64(a + 16)) TH_LOG("signal %d restorer", sig);
		EXPECT_EQ(k->mask, ckpt_get64(a + 24)) TH_LOG("signal %d mask", sig);
		if (ckpt_get64(a) == 1)
			ignored |= 1ULL << (sig - 1);
		else if (ckpt_get64(a) > 1)
			handled |= 1ULL << (sig - 1);
	}
	EXPECT_EQ(status_hex(_metadata, self->c.pid, "SigIgn"), ignored);
	EXPECT_EQ(status_hex(_metadata, self->c.pid, "SigCgt"), handled);
	usr1 = s + 32 + (SIGUSR1 - 1) * 32;
	EXPECT_EQ((uint64_t)(SA_RESTART | SA_ONSTACK), ckpt_get64(usr1 + 8) & (SA_RESTART | SA_ONSTACK));
	EXPECT_EQ((1ULL << (SIGTERM - 1)) | (1ULL << 39), ckpt_get64(usr1 + 24));
	EXPECT_NE(0ULL, ignored & (1ULL << (SIGPIPE - 1)));

	/* rseq: PTRACE_GET_RSEQ_CONFIGURATION */
	memset(&rseq, 0, sizeof(rseq));
	ASSERT_EQ((long)sizeof(rseq), ptrace(0x420f, self->c.pid,
				       sizeof(rseq), &rseq));
	EXPECT_NE(0ULL, rseq.rseq_abi_pointer) TH_LOG("glibc registers an rseq area");
	EXPECT_EQ(rseq.rseq_abi_pointer, ckpt_get64(t));
	EXPECT_EQ(rseq.rseq_abi_size, ckpt_get32(t + 8));
	EXPECT_EQ(rseq.signature, ckpt_get32(t + 12));

	/* robust list: get_robust_list(2) */
	ASSERT_EQ(0, syscall(SYS_get_robust_list, self->c.pid, &head, &len));
	EXPECT_NE(0ULL, head) TH_LOG("glibc registers a robust list");
	EXPECT_EQ(head, ckpt_get64(t + 16));
	EXPECT_EQ(len, ckpt_get64(t + 24));

	/* clear_child_tid: the child's PR_GET_TID_ADDRESS */
	EXPECT_NE(0ULL, ci->tid_address);
	EXPECT_EQ(ci->tid_address, ckpt_get64(t + 32));

	/* umask: /proc (Umask) */
	ASSERT_NE(NULL, status_field(self->c.pid, "Umask", buf, sizeof(buf)));
	EXPECT_EQ(027UL, strtoul(buf, NULL, 8));
	EXPECT_EQ(strtoul(buf, NULL, 8), (unsigned long)ckpt_get32(t + 40));

	/* parent-death signal: the child's PR_GET_PDEATHSIG */
	EXPECT_EQ(SIGTERM, ci->pdeath);
	EXPECT_EQ((uint32_t)ci->pdeath, ckpt_get32(t + 44));

	/* rlimits: prlimit(2) for all 16, /proc/PID/limits for the two changed ones */
	EXPECT_EQ(16U, ckpt_get32(t + 48));
	for (int r = 0; r < NLIMITS; r++) {
		struct rlimit old;

		ASSERT_EQ(0, prlimit(self->c.pid, r, NULL, &old));
		EXPECT_EQ((uint64_t)old.rlim_cur, ckpt_get64(t + 56 + r * 16)) TH_LOG("rlimit %d", r);
		EXPECT_EQ((uint64_t)old.rlim_max, ckpt_get64(t + 64 + r * 16)) TH_LOG("rlimit %d", r);
	}
	ASSERT_TRUE(proc_limit(self->c.pid, "Max open files", soft, hard));
	rlim_string(ckpt_get64(t + 56 + RLIMIT_NOFILE * 16), want);
	EXPECT_STREQ(soft, want);
	EXPECT_STREQ("77", soft);
	rlim_string(ckpt_get64(t + 64 + RLIMIT_NOFILE * 16), want);
	EXPECT_STREQ(hard, want);
	ASSERT_TRUE(proc_limit(self->c.pid, "Max core file size", soft, hard));
	EXPECT_STREQ("12288", soft);
	EXPECT_STREQ("1048576", hard);
	rlim_string(ckpt_get64(t + 56 + RLIMIT_CORE * 16), want);
	EXPECT_STREQ(soft, want);
	rlim_string(ckpt_get64(t + 64 + RLIMIT_CORE * 16), want);
	EXPECT_STREQ(hard, want);

	/* comm: the task record (offset 48, 16 bytes) and /proc (Name) */
	ASSERT_NE(NULL, status_field(self->c.pid, "Name", buf, sizeof(buf)));
	EXPECT_STREQ(COMM, buf);
	EXPECT_STREQ(buf, (const char *)im->task + 48);
}

static void expect_state_refused(struct __test_metadata *_metadata, FIXTURE_DATA(sig) *self,
				 const char *scenario, const char *what)
{
	start(_metadata, self, scenario);
	dump(_metadata, self);
	ASSERT_EQ(-1, self->c.rc);
	EXPECT_EQ(EOPNOTSUPP, self->c.err);
	EXPECT_EQ((__u32)CKPT_REASON_UNSUPPORTED_STATE, self->c.args.reason) TH_LOG("%s", self->c.log);
	EXPECT_NE(NULL, strstr(self->c.log, what)) TH_LOG("log: %s", self->c.log);
}

TEST_F(sig, refuses_pending_signals_by_name)
{
	char buf[64];

	expect_state_refused(_metadata, self, "pending", "pending signals");
	EXPECT_NE(NULL, strstr(self->c.log, "SIGUSR2")) TH_LOG("log: %s", self->c.log);
	EXPECT_NE(NULL, strstr(self->c.log, "SIGRTMIN+4")) TH_LOG("log: %s", self->c.log);
	/* what /proc says is pending: SIGUSR2 private, signal 36 process-wide */
	ASSERT_NE(NULL, status_field(self->c.pid, "SigPnd", buf, sizeof(buf)));
	EXPECT_EQ(1ULL << (SIGUSR2 - 1), strtoull(buf, NULL, 16));
	ASSERT_NE(NULL, status_field(self->c.pid, "ShdPnd", buf, sizeof(buf)));
	EXPECT_EQ(1ULL << 35, strtoull(buf, NULL, 16));
}

TEST_F(sig, refuses_a_temporary_signal_mask)
{
	expect_state_refused(_metadata, self, "sigsuspend", "temporary signal mask");
}

/* Whether @pid is blocked in clock_nanosleep(2) or nanosleep(2) (/proc/PID/syscall). */
static int sleeping(pid_t pid)
{
	char path[64];
	long nr = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &nr) != 1)
			nr = -1;
		fclose(f);
	}
	return nr == __NR_clock_nanosleep || nr == __NR_nanosleep;
}

/* Whether /proc/PID/maps mentions @what and the process sleeps. */
static int loaded(pid_t pid, const char *what)
{
	char path[64], line[512], state = 0;
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		found |= strstr(line, what) != NULL;
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
			state = 0;
		fclose(f);
	}
	return found && state == 'S';
}

/*
 * A dynamically linked program (/bin/sleep, its libc and ld.so copied onto
 * a tmpfs, so that every mapped file is one this test made), run
 * as "ld-linux-x86-64.so.2 --library-path DIR DIR/sleep": every mapping
 * matches /proc/PID/maps, every page in the image matches /proc/PID/mem,
 * and the libraries' copied-on-write pages are in the image.
 */
TEST_F_TIMEOUT(sig, dynamic_program_maps_and_pages_match, 120)
{
	char ld[160], libc[160], prog[160], path[64], line[512], perms[8];
	struct image *im = &self->im;
	uint64_t file_pages = 0;
	int status, n = 0, mem;
	unsigned long start, end;
	const char *err;
	uint8_t *buf;
	FILE *maps;
	pid_t pid;

	snprintf(ld, sizeof(ld), "%s/ld-linux-x86-64.so.2", self->c.dir);
	snprintf(libc, sizeof(libc), "%s/libc.so.6", self->c.dir);
	snprintf(prog, sizeof(prog), "%s/sleep", self->c.dir);
	if (ckpt_copy_file("/lib64/ld-linux-x86-64.so.2", ld, 0755) ||
	    ckpt_copy_file("/bin/sleep", prog, 0755) ||
	    ckpt_copy_file("/lib/x86_64-linux-gnu/libc.so.6", libc, 0755))
		SKIP(return, "no /bin/sleep, ld.so or libc.so.6 to copy");
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char *env[] = { "LC_ALL=C", NULL };
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		execle(ld, ld, "--library-path", self->c.dir, prog, "1000", (char *)NULL, env);
		_exit(127);
	}
	self->c.pid = pid;
	for (int i = 0; i < 600 && !loaded(pid, "libc.so.6"); i++)
		usleep(50000);
	ASSERT_TRUE(loaded(pid, "libc.so.6")) TH_LOG("the program did not start");
	/*
	 * Until it sleeps, ld.so may still have /etc/ld.so.cache mapped (a
	 * mapping that comes and goes): wait for clock_nanosleep.
	 */
	for (int i = 0; i < 600 && !sleeping(pid); i++)
		usleep(50000);
	ASSERT_TRUE(sleeping(pid)) TH_LOG("the program never reached its sleep");
	ASSERT_EQ(0, ptrace(PTRACE_SEIZE, pid, 0, 0));
	ASSERT_EQ(0, ptrace(PTRACE_INTERRUPT, pid, 0, 0));
	ASSERT_EQ(pid, waitpid(pid, &status, __WALL));
	ASSERT_TRUE(WIFSTOPPED(status));
	dump(_metadata, self);
	ASSERT_EQ(0, self->c.rc) TH_LOG("errno %d: %s", self->c.err, self->c.log);
	err = parse_image(im);
	ASSERT_EQ(NULL, err) TH_LOG("%s", err);
	ASSERT_NE(NULL, im->signals);
	ASSERT_NE(NULL, im->task_state);
	EXPECT_NE(0ULL, ckpt_get64(im->task_state)) TH_LOG("the dynamic glibc registers rseq too");

	/* every mapping, in order: range, protection, shared or private */
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "r");
	ASSERT_NE(NULL, maps);
	while (fgets(line, sizeof(line), maps)) {
		uint32_t prot;

		ASSERT_EQ(3, sscanf(line, "%lx-%lx %7s", &start, &end, perms));
		ASSERT_LT(n, im->nvma) TH_LOG("no vma record for %s", line);
		prot = (perms[0] == 'r') | (perms[1] == 'w') << 1 | (perms[2] == 'x') << 2;
		EXPECT_EQ(start, im->vma[n].start) TH_LOG("%s", line);
		EXPECT_EQ(end, im->vma[n].end) TH_LOG("%s", line);
		EXPECT_EQ(prot, im->vma[n].prot) TH_LOG("%s", line);
		EXPECT_EQ((uint32_t)(perms[3] == 's'), im->vma[n].flags & 1) TH_LOG("%s", line);
		if (im->vma[n].kind == 2)
			file_pages += im->vma[n].pages;
		n++;
	}
	fclose(maps);
	EXPECT_EQ(n, im->nvma);
	EXPECT_GT(file_pages, 0ULL) TH_LOG("no copied-on-write page of ld.so or libc");

	/* every page in the image, byte for byte */
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	mem = open(path, O_RDONLY);
	ASSERT_GE(mem, 0);
	buf = malloc(64 * 4096);
	ASSERT_NE(NULL, buf);
	EXPECT_GT(im->total_pages, 0ULL);
	for (int i = 0; i < im->npages; i++) {
		const struct page_rec *pg = &im->page[i];
		size_t len = pg->count * 4096UL;

		ASSERT_LE(len, 64 * 4096UL);
		ASSERT_EQ((ssize_t)len, pread(mem, buf, len, pg->start));
		EXPECT_EQ(0, memcmp(buf, pg->data, len)) TH_LOG("pages at %" PRIx64, pg->start);
	}
	free(buf);
	close(mem);
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "--child"))
		return child_main(argv);
	return test_harness_run(argc, argv);
}
