// SPDX-License-Identifier: GPL-2.0
/*
 * Whole-process restart (issue 11, steps 1 and part of 2): `ckpt restore
 * --image IMG` of a process image becomes the checkpointed process.
 *
 * The child (ckpt_process_child.c, static, no libc, copied onto a tmpfs)
 * counts in .bss, in a page it mapped and in xmm9, and stops itself after
 * each step. Traced by this test, it is checkpointed (CKPT_IOC_CHECKPOINT
 * with CKPT_CHECKPOINT_PROCESS) at its second stop and killed; a new process
 * traced by this test execs the ckpt CLI with the image, which must turn into
 * the child: the same three counters go on (3, then 4), read with oracles
 * independent of ckpt (/proc/PID/mem, PTRACE_GETREGSET), /proc/PID/maps is
 * the original's but for the vDSO and vvar, its fds are the image's, and it
 * exits with 42 once told to quit. The static glibc child
 * (ckpt_process_glibc_child.c) counts in TLS (fs base), in its brk heap and
 * in vDSO clock_gettime() calls: /proc/PID/maps must then match with the
 * vDSO and vvar too, moved to the image's addresses; its signal and task
 * state (handler, ignored and blocked signals, altstack, umask, RLIMIT_NOFILE,
 * glibc's rseq and robust list) is the original's as /proc/PID/status and
 * limits, PTRACE_GET_RSEQ_CONFIGURATION and get_robust_list() report it, and
 * signals sent after the restart reach the handler (on the altstack), are
 * ignored, or stay pending. Refusals leave the caller intact: a
 * corrupt PAGES record, a commit without a validated plan, credentials other
 * than the image's (without CKPT_RESTART_AS_CALLER), a resource limit of the
 * image above the caller's hard limit.
 *
 * CKPT_CLI: path of the ckpt binary (default: the release build in tools/).
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/ckpt.h>

#include "kselftest_harness.h"
#include "ckpt_selftest.h"

/*
 * What the child reports on fd 3 (the glibc child: tls, heap, quit, clock
 * calls, SIGUSR1 handler calls and those on the alternate stack).
 */
struct child_info {
	uint64_t counter, page, quit, clock, handled, on_altstack;
};

/* PTRACE_GET_RSEQ_CONFIGURATION (linux/ptrace.h clashes with sys/ptrace.h). */
#define GET_RSEQ_CONFIGURATION 0x420f
struct rseq_config {
	uint64_t rseq_abi_pointer;
	uint32_t rseq_abi_size, signature, flags, pad;
};

/* What the kernel reports of a process's signal and task state (oracles independent of ckpt). */
struct task_oracle {
	char status[512];	/* SigBlk, SigIgn, SigCgt, Umask lines of /proc/PID/status */
	char limits[4096];	/* /proc/PID/limits */
	struct rseq_config rseq;
	uint64_t robust_head, robust_len;
};

/* Offset of xmm9 in the XSAVE area (legacy region: xmm0 at 160). */
#define XMM9_OFFSET (160 + 9 * 16)

FIXTURE(pr) {
	int dev;
	char dir[64];
	char prog[128];
	char gprog[128];
	char image[128];
	char errlog[128];
	char cli[PATH_MAX + 64];
	pid_t child;
	struct child_info info;
	char maps[8192];
	struct task_oracle oracle;
};

FIXTURE_SETUP(pr)
{
	struct { char *to; const char *name, *from; } progs[] = {
		{ self->prog, "child", "ckpt_process_child" },
		{ self->gprog, "gchild", "ckpt_process_glibc_child" },
	};
	char here[PATH_MAX], path[PATH_MAX + 64];

	ckpt_exe_dir(here, sizeof(here));
	ckpt_find_cli(_metadata, self->cli, sizeof(self->cli));
	self->dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_GE(self->dev, 0);
	strcpy(self->dir, "/tmp/ckpt-pr-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	ASSERT_EQ(0, mount("tmpfs", self->dir, "tmpfs", 0, "size=64m"));
	snprintf(self->image, sizeof(self->image), "%s/image", self->dir);
	snprintf(self->errlog, sizeof(self->errlog), "%s/errlog", self->dir);
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		snprintf(progs[i].to, sizeof(self->prog), "%s/%s", self->dir, progs[i].name);
		snprintf(path, sizeof(path), "%s/%s", here, progs[i].from);
		ASSERT_EQ(0, ckpt_copy_file(path, progs[i].to, 0755)) TH_LOG("copying %s", path);
	}
	self->child = -1;
}

FIXTURE_TEARDOWN(pr)
{
	ckpt_kill_child(&self->child);
	umount2(self->dir, MNT_DETACH);
	rmdir(self->dir);
	close(self->dev);
}

/* The three counters of the stopped child: .bss, the page, xmm9; and r12. */
static void counters(struct __test_metadata *_metadata, pid_t pid, const struct child_info *in,
		     uint64_t want)
{
	static uint8_t xsave[1 << 16];
	struct user_regs_struct regs;
	struct iovec iov = { &regs, sizeof(regs) };
	uint64_t bss = 0, page = 0, xmm = 0;

	ASSERT_EQ(0, ckpt_mem_read(pid, in->counter, &bss, sizeof(bss)));
	ASSERT_EQ(0, ckpt_mem_read(pid, in->page, &page, sizeof(page)));
	ASSERT_EQ(0, ptrace(PTRACE_GETREGSET, pid, NT_PRSTATUS, &iov));
	iov.iov_base = xsave;
	iov.iov_len = sizeof(xsave);
	ASSERT_EQ(0, ptrace(PTRACE_GETREGSET, pid, NT_X86_XSTATE, &iov));
	memcpy(&xmm, xsave + XMM9_OFFSET, 8);
	EXPECT_EQ(want, bss) TH_LOG(".bss counter");
	EXPECT_EQ(want, page) TH_LOG("counter in the mapped page");
	EXPECT_EQ(want, xmm) TH_LOG("counter in xmm9");
	EXPECT_EQ(in->page, regs.r12) TH_LOG("r12");
}

/* The glibc child's counters: TLS, heap, clock calls. */
static void gcounters(struct __test_metadata *_metadata, pid_t pid, const struct child_info *in,
		      uint64_t want)
{
	uint64_t tls = 0, heap = 0, clock = 0;

	ASSERT_EQ(0, ckpt_mem_read(pid, in->counter, &tls, sizeof(tls)));
	ASSERT_EQ(0, ckpt_mem_read(pid, in->page, &heap, sizeof(heap)));
	ASSERT_EQ(0, ckpt_mem_read(pid, in->clock, &clock, sizeof(clock)));
	EXPECT_EQ(want, tls) TH_LOG("TLS counter");
	EXPECT_EQ(want, heap) TH_LOG("counter in the brk heap");
	EXPECT_EQ(want, clock) TH_LOG("vDSO clock_gettime() calls");
}

/* The value of field @name (e.g. "SigBlk:") of /proc/PID/status in @base; ~0 if absent. */
static uint64_t status_num(pid_t pid, const char *name, int base)
{
	char path[64], line[256];
	uint64_t v = ~0UL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, name, strlen(name)))
			v = strtoull(line + strlen(name), NULL, base);
	if (f)
		fclose(f);
	return v;
}

/* The signal and task state of @pid, stopped, as /proc, ptrace and get_robust_list() see it. */
static void task_oracle_of(struct __test_metadata *_metadata, pid_t pid, struct task_oracle *o)
{
	static const char *const fields[] = { "SigBlk:", "SigIgn:", "SigCgt:", "Umask:" };
	char path[64], line[256];
	ssize_t n;
	FILE *f;
	int fd;

	memset(o, 0, sizeof(*o));
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (!strncmp(line, fields[i], strlen(fields[i])))
				snprintf(o->status + strlen(o->status),
					 sizeof(o->status) - strlen(o->status), "%s", line);
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/limits", pid);
	fd = open(path, O_RDONLY);
	ASSERT_GE(fd, 0);
	n = read(fd, o->limits, sizeof(o->limits) - 1);
	close(fd);
	ASSERT_GT(n, 0);
	ASSERT_EQ((long)sizeof(o->rseq), ptrace(GET_RSEQ_CONFIGURATION, pid, sizeof(o->rseq), &o->rseq));
	ASSERT_EQ(0, syscall(SYS_get_robust_list, pid, &o->robust_head, &o->robust_len));
}

/* Runs @prog to its second stop, checkpoints it into the image file, kills it. */
static void checkpoint_prog(struct __test_metadata *_metadata, FIXTURE_DATA(pr) *self,
			    char *prog, size_t info_len)
{
	char *argv[] = { prog, NULL };
	bool glibc = prog == self->gprog;

	ckpt_spawn_reporting(_metadata, argv, &self->child, &self->info, info_len);
	if (glibc)
		gcounters(_metadata, self->child, &self->info, 1);
	else
		counters(_metadata, self->child, &self->info, 1);
	ASSERT_EQ(0, ckpt_run_to_stop(self->child));
	if (glibc) {
		gcounters(_metadata, self->child, &self->info, 2);
		task_oracle_of(_metadata, self->child, &self->oracle);
	} else {
		counters(_metadata, self->child, &self->info, 2);
	}

	ckpt_dump_process_to(_metadata, self->dev, self->child, self->image);
	ckpt_maps_of(self->child, self->maps, sizeof(self->maps));
	ckpt_kill_child(&self->child);
}

static void checkpoint_child(struct __test_metadata *_metadata, FIXTURE_DATA(pr) *self)
{
	checkpoint_prog(_metadata, self, self->prog, 24);
}

/* Waits for @pid, a plain child that reports with its exit status: 0 passes. */
static void expect_exit0(struct __test_metadata *_metadata, pid_t pid)
{
	int status;

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_F(pr, restored_process_counts_on)
{
	char maps[8192], path[64], target[64];
	struct dirent *d;
	int nfds = 0;
	DIR *dir;

	checkpoint_child(_metadata, self);
	ckpt_restore_to_stop(_metadata, self->cli, self->image, self->errlog, &self->child,
			     "the restorer did not stop like the child");
	counters(_metadata, self->child, &self->info, 3);

	ckpt_maps_of(self->child, maps, sizeof(maps));
	EXPECT_STREQ(self->maps, maps);

	/* the fd table is the image's: 0, 1 and 2 on /dev/null */
	snprintf(path, sizeof(path), "/proc/%d/fd", self->child);
	dir = opendir(path);
	ASSERT_NE(NULL, dir);
	while ((d = readdir(dir))) {
		char link[512];
		ssize_t n;

		if (d->d_name[0] == '.')
			continue;
		nfds++;
		snprintf(link, sizeof(link), "%s/%s", path, d->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = 0;
		EXPECT_STREQ("/dev/null", target) TH_LOG("fd %s", d->d_name);
	}
	closedir(dir);
	EXPECT_EQ(3, nfds);

	ASSERT_EQ(0, ckpt_run_to_stop(self->child));
	counters(_metadata, self->child, &self->info, 4);
	ckpt_quit_42(_metadata, &self->child, self->info.quit);
}

#define SIGBIT(s) (1UL << ((s) - 1))

/*
 * A static glibc program: TLS, brk heap and the vDSO work on after the
 * restart, and its signal and task state is back (signal actions, blocked
 * mask, altstack, umask, rlimits, glibc's rseq and robust list): /proc, ptrace
 * and get_robust_list() report what they reported of the original, and
 * signals sent after the restart meet the restored actions and mask.
 */
TEST_F(pr, static_glibc_counts_on)
{
	struct task_oracle now;
	uint64_t handled = ~0UL, onstack = ~0UL;
	struct rlimit rl;
	char maps[8192];
	int status;

	checkpoint_prog(_metadata, self, self->gprog, sizeof(self->info));
	ckpt_restore_to_stop(_metadata, self->cli, self->image, self->errlog, &self->child,
			     "the restored glibc program did not stop");
	gcounters(_metadata, self->child, &self->info, 3);
	ckpt_maps_of(self->child, maps, sizeof(maps));
	EXPECT_STREQ(self->maps, maps);

	/* the original's state, which is what the child set */
	EXPECT_NE(0UL, status_num(self->child, "SigBlk:", 16) & SIGBIT(SIGUSR2));
	EXPECT_NE(0UL, status_num(self->child, "SigIgn:", 16) & SIGBIT(SIGINT));
	EXPECT_NE(0UL, status_num(self->child, "SigCgt:", 16) & SIGBIT(SIGUSR1));
	EXPECT_EQ(027UL, status_num(self->child, "Umask:", 8));
	ASSERT_EQ(0, prlimit(self->child, RLIMIT_NOFILE, NULL, &rl));
	EXPECT_EQ(64UL, rl.rlim_cur);
	task_oracle_of(_metadata, self->child, &now);
	EXPECT_STREQ(self->oracle.status, now.status);
	EXPECT_STREQ(self->oracle.limits, now.limits);
	EXPECT_NE(0UL, self->oracle.rseq.rseq_abi_pointer) TH_LOG("glibc registered no rseq area");
	EXPECT_EQ(self->oracle.rseq.rseq_abi_pointer, now.rseq.rseq_abi_pointer);
	EXPECT_EQ(self->oracle.rseq.rseq_abi_size, now.rseq.rseq_abi_size);
	EXPECT_EQ(self->oracle.rseq.signature, now.rseq.signature);
	EXPECT_NE(0UL, self->oracle.robust_head) TH_LOG("glibc registered no robust list");
	EXPECT_EQ(self->oracle.robust_head, now.robust_head);
	EXPECT_EQ(self->oracle.robust_len, now.robust_len);

	/*
	 * Signals after the restart: SIGUSR1 reaches its handler, on the
	 * altstack; SIGINT is ignored; SIGUSR2 stays pending, blocked.
	 */
	ASSERT_EQ(0, kill(self->child, SIGUSR2));
	ASSERT_EQ(0, kill(self->child, SIGUSR1));
	ASSERT_EQ(0, kill(self->child, SIGINT));
	status = ckpt_run_to_stop(self->child);
	if (status)
		self->child = -1;
	ASSERT_EQ(0, status) TH_LOG("the restored program died of a signal (status %#x)", status);
	gcounters(_metadata, self->child, &self->info, 4);
	ASSERT_EQ(0, ckpt_mem_read(self->child, self->info.handled, &handled, sizeof(handled)));
	ASSERT_EQ(0, ckpt_mem_read(self->child, self->info.on_altstack, &onstack, sizeof(onstack)));
	EXPECT_EQ(1UL, handled) TH_LOG("SIGUSR1 handler calls");
	EXPECT_EQ(1UL, onstack) TH_LOG("SIGUSR1 handler calls on the alternate stack");
	EXPECT_EQ(SIGBIT(SIGUSR2),
		  status_num(self->child, "ShdPnd:", 16) | status_num(self->child, "SigPnd:", 16))
		TH_LOG("pending signals");
	EXPECT_NE(0UL, status_num(self->child, "SigBlk:", 16) & SIGBIT(SIGUSR2));
	ckpt_quit_42(_metadata, &self->child, self->info.quit);
}

/* A flipped byte of page data: refused before anything changes, the caller goes on. */
TEST_F(pr, corrupt_pages_refused_caller_intact)
{
	char before[8192], after[8192];
	struct ckpt_rs r;
	uint8_t *img;
	struct stat st;
	size_t at = CKPT_HDR_LEN, flipped = 0;
	int fd, status;

	checkpoint_child(_metadata, self);
	fd = open(self->image, O_RDWR);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, fstat(fd, &st));
	img = malloc(st.st_size);
	ASSERT_EQ(st.st_size, pread(fd, img, st.st_size, 0));
	/* the first PAGES record (type 0x32): flip a byte of its data */
	while (at + CKPT_RHDR_LEN <= (size_t)st.st_size) {
		uint32_t len = ckpt_get32(img + at + 4);

		if (ckpt_get16(img + at) == 0x32) {
			flipped = at + CKPT_RHDR_LEN + 24 + 100;
			img[flipped] ^= 0x40;
			break;
		}
		at += len;
	}
	ASSERT_NE((size_t)0, flipped) TH_LOG("no PAGES record");
	ASSERT_EQ(st.st_size, pwrite(fd, img, st.st_size, 0));
	free(img);

	ckpt_maps_of(getpid(), before, sizeof(before));
	ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));
	EXPECT_EQ(EBADMSG, ckpt_validate_process(self->dev, fd, 0, &r));
	EXPECT_EQ((__u32)CKPT_REASON_BAD_IMAGE, r.a.reason);
	TH_LOG("refused: %s", r.log);
	/* nothing was kept: a commit has no plan */
	EXPECT_EQ(EINVAL, ckpt_commit_errno(self->dev));
	ckpt_maps_of(getpid(), after, sizeof(after));
	EXPECT_STREQ(before, after);
	close(fd);

	/* the CLI refuses it too, and exits with a status */
	ckpt_restore_refused(_metadata, self->cli, self->image, self->errlog, &self->child,
			     &status);
	EXPECT_NE(0, WEXITSTATUS(status));
	ckpt_show_errlog(_metadata, self->errlog);
}

/*
 * Checkpoints the child and forks: the child (0 returned) tries phase A on
 * the image, open at *@fd, with the credentials or limits a test gives it.
 */
static pid_t fork_with_image(struct __test_metadata *_metadata, FIXTURE_DATA(pr) *self, int *fd)
{
	pid_t pid;

	checkpoint_child(_metadata, self);
	*fd = open(self->image, O_RDONLY);
	ASSERT_GE(*fd, 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	return pid;
}

/* Other credentials than the image's: refused, unless asked to restore as the caller. */
TEST_F(pr, credentials)
{
	struct ckpt_rs r;
	pid_t pid;
	int fd;

	pid = fork_with_image(_metadata, self, &fd);
	if (pid == 0) {
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(10);
		if (ckpt_validate_process(self->dev, fd, 0, &r) != EPERM ||
		    !strstr(r.log, "credentials"))
			_exit(11);
		lseek(fd, 0, SEEK_SET);
		if (ckpt_validate_process(self->dev, fd, CKPT_RESTART_AS_CALLER, &r)) {
			fprintf(stderr, "as caller: %s\n", r.log);
			_exit(12);
		}
		_exit(0);
	}
	expect_exit0(_metadata, pid);
	close(fd);
}

/*
 * A caller whose hard RLIMIT_NOFILE is below the image's: refused by name
 * (restart never raises a limit), nothing kept.
 */
TEST_F(pr, rlimit_above_caller_refused)
{
	struct rlimit rl;
	struct ckpt_rs r;
	pid_t pid;
	int fd;

	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &rl));
	ASSERT_GT(rl.rlim_max, 64UL) TH_LOG("the test needs a hard RLIMIT_NOFILE above 64");
	pid = fork_with_image(_metadata, self, &fd);
	if (pid == 0) {
		rl.rlim_cur = rl.rlim_max = 64;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			_exit(10);
		if (ckpt_validate_process(self->dev, fd, 0, &r) != EPERM ||
		    !strstr(r.log, "nofile")) {
			fprintf(stderr, "refusal: %s\n", r.log);
			_exit(11);
		}
		_exit(ckpt_commit_errno(self->dev) == EINVAL ? 0 : 12);
	}
	expect_exit0(_metadata, pid);
	close(fd);
}

TEST_HARNESS_MAIN
