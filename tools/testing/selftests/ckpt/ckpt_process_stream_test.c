// SPDX-License-Identifier: GPL-2.0
/*
 * Whole-process restart of large images and of processes blocked in system
 * calls (issue 11): page data streams, from a file and through a pipe, and
 * the system call a process was checkpointed in resumes as after a signal.
 *
 * The child (ckpt_process_stream_child.c, static glibc, copied onto a tmpfs)
 * fills anonymous memory with a pattern of its addresses, reports where, and
 * blocks in read(), nanosleep(), clock_nanosleep() or wait4(). Once
 * /proc/PID/syscall shows it there, the real CLI checkpoints it (`ckpt dump
 * --pid P --process --kill`, into a file or into a pipe that `ckpt restore
 * --image -` reads) and a new process runs `ckpt restore`, which must turn
 * into the child. Oracles independent of ckpt: /proc/PID/syscall (the
 * restored process blocks again in the restarted read()), /proc/PID/mem (the
 * whole pattern is back), and the child's own report of what its system call
 * returned: read() gets the data written after the restore, wait4() restarts
 * (and finds no child: ECHILD), nanosleep() and clock_nanosleep(), whose
 * restart block a restart cannot restore, return EINTR as after a signal with
 * a handler; never a kernel-internal -ERESTART* value.
 *
 * 68 MiB of memory are over CKPT_RESTART_MAX_IMAGE (64 MiB), the most a
 * restart kept in kernel memory before page data streamed.
 *
 * CKPT_CLI: path of the ckpt binary (default: the release build in tools/).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/ckpt.h>

#include "kselftest_harness.h"
#include "ckpt_selftest.h"

#define PATTERN 0x5bd1e995deadbeefULL
#define BIG_MIB 68
/* How long a step of the guest (TCG, KASAN) may take. */
#define STEP_SECONDS 300

FIXTURE(ps) {
	char dir[64];
	char prog[128];
	char image[128];
	char errlog[128];
	char cli[PATH_MAX + 64];
	pid_t child, restored, grandchild;
};

FIXTURE_SETUP(ps)
{
	char here[PATH_MAX], path[PATH_MAX + 64];

	ckpt_exe_dir(here, sizeof(here));
	ckpt_find_cli(_metadata, self->cli, sizeof(self->cli));
	strcpy(self->dir, "/tmp/ckpt-ps-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	ASSERT_EQ(0, mount("tmpfs", self->dir, "tmpfs", 0, "size=256m"));
	snprintf(self->prog, sizeof(self->prog), "%s/child", self->dir);
	snprintf(self->image, sizeof(self->image), "%s/image", self->dir);
	snprintf(self->errlog, sizeof(self->errlog), "%s/errlog", self->dir);
	snprintf(path, sizeof(path), "%s/ckpt_process_stream_child", here);
	ASSERT_EQ(0, ckpt_copy_file(path, self->prog, 0755)) TH_LOG("copying %s", path);
	self->child = self->restored = self->grandchild = -1;
}

FIXTURE_TEARDOWN(ps)
{
	ckpt_kill_child(&self->child);
	ckpt_kill_child(&self->restored);
	if (self->grandchild > 0)
		kill(self->grandchild, SIGKILL);
	umount2(self->dir, MNT_DETACH);
	rmdir(self->dir);
}

/* Reads one line from @fd (a pipe) into @buf within STEP_SECONDS; 0 or -1. */
static int read_line(int fd, char *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t n = 0;

	while (n + 1 < len) {
		if (poll(&p, 1, STEP_SECONDS * 1000) != 1 || read(fd, buf + n, 1) != 1)
			break;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = 0;
	return n && buf[n - 1] == '\n' ? 0 : -1;
}

/*
 * Waits until /proc/@pid/syscall starts with @prefix (the process blocked in
 * that system call, with those first arguments); 0, or -1 after STEP_SECONDS.
 */
static int wait_syscall(pid_t pid, const char *prefix, char *seen, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	for (int i = 0; i < STEP_SECONDS * 20; i++) {
		int fd = open(path, O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, seen, len - 1) : -1;

		if (fd >= 0)
			close(fd);
		seen[n > 0 ? n : 0] = 0;
		if (!strncmp(seen, prefix, strlen(prefix)))
			return 0;
		usleep(50000);
	}
	return -1;
}

/* Words of the pattern at @addr (@len bytes) of @pid that /proc/PID/mem shows wrong. */
static long bad_words(pid_t pid, uint64_t addr, uint64_t len)
{
	static uint64_t buf[1 << 17];
	long bad = 0;

	for (uint64_t off = 0; off < len; off += sizeof(buf)) {
		uint64_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);

		if (ckpt_mem_read(pid, addr + off, buf, n))
			return -1;
		for (uint64_t i = 0; i < n / 8; i++)
			if (buf[i] != ((addr + off + i * 8) ^ PATTERN))
				bad++;
	}
	return bad;
}

/* Waits for `ckpt dump` (@dumper), which must succeed; if not, shows why. */
static void dumped(struct __test_metadata *_metadata, const char *errlog, pid_t dumper)
{
	int status;

	ASSERT_EQ(dumper, waitpid(dumper, &status, 0));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		ckpt_show_errlog(_metadata, errlog);
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("ckpt dump: status %#x", status);
}

/*
 * The child in @mode with @mib MiB, blocked in the system call whose
 * /proc/PID/syscall starts with @blocked, checkpointed and restored (through
 * a pipe if @through_pipe); its report must be @want.
 */
static void stream_case(struct __test_metadata *_metadata, FIXTURE_DATA(ps) *self,
			const char *mode, int mib, const char *blocked, bool through_pipe,
			const char *want)
{
	char mibs[16], pid[16], line[256], seen[256];
	char *child_argv[] = { self->prog, (char *)mode, mibs, NULL };
	char *dump_argv[] = { self->cli, "dump", "--pid", pid, "--process", "--output",
			      through_pipe ? "-" : self->image, "--kill", NULL };
	char *restore_argv[] = { self->cli, "restore", "--image",
				 through_pipe ? "-" : self->image, NULL };
	int in[2], out[2], in2[2], out2[2], dpipe[2] = { -1, -1 };
	int null = open("/dev/null", O_RDWR), err, status;
	unsigned long addr = 0, len = 0;
	pid_t dumper;
	long bad;

	ASSERT_GE(null, 0);
	snprintf(mibs, sizeof(mibs), "%d", mib);
	ASSERT_EQ(0, pipe2(in, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(out, O_CLOEXEC));
	self->child = ckpt_spawn(child_argv, in[0], out[1], null);
	ASSERT_GT(self->child, 0);
	close(in[0]);
	close(out[1]);
	ASSERT_EQ(0, read_line(out[0], line, sizeof(line))) TH_LOG("the child said nothing");
	ASSERT_EQ(3, sscanf(line, "mem %lx %lx %d", &addr, &len, &self->grandchild))
		TH_LOG("child: %s", line);
	if (!self->grandchild)
		self->grandchild = -1;
	ASSERT_EQ(0, wait_syscall(self->child, blocked, seen, sizeof(seen)))
		TH_LOG("the child is not blocked in %s: %s", mode, seen);

	/* checkpoint it with the CLI, which seizes and interrupts it, then kills it */
	snprintf(pid, sizeof(pid), "%d", self->child);
	err = open(self->errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_GE(err, 0);
	if (through_pipe)
		ASSERT_EQ(0, pipe2(dpipe, O_CLOEXEC));
	dumper = ckpt_spawn(dump_argv, null, through_pipe ? dpipe[1] : null, err);
	ASSERT_GT(dumper, 0);
	/* dpipe[1] stays open: the restored process's fd 0 must not end */

	/*
	 * The restorer: fd 0 is the dump pipe (the image, then the child's
	 * external fd 0, kept open here) or a new pipe, fd 1 a new report pipe.
	 */
	ASSERT_EQ(0, pipe2(in2, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(out2, O_CLOEXEC));
	if (!through_pipe)
		dumped(_metadata, self->errlog, dumper);
	self->restored = ckpt_spawn(restore_argv, through_pipe ? dpipe[0] : in2[0], out2[1], err);
	ASSERT_GT(self->restored, 0);
	close(out2[1]);
	close(in2[0]);
	if (through_pipe)
		dumped(_metadata, self->errlog, dumper);
	close(err);
	/* the original was killed */
	ASSERT_EQ(self->child, waitpid(self->child, &status, 0));
	self->child = -1;
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		TH_LOG("the original: status %#x", status);

	if (!strcmp(mode, "read")) {
		/* blocked again in the restarted read() of fd 0 */
		if (wait_syscall(self->restored, "0 0x0 ", seen, sizeof(seen)))
			ckpt_show_errlog(_metadata, self->errlog);
		ASSERT_EQ(0, wait_syscall(self->restored, "0 0x0 ", seen, sizeof(seen)))
			TH_LOG("the restored process is not in read(0): %s", seen);
		bad = bad_words(self->restored, addr, len);
		EXPECT_EQ(0, bad) TH_LOG("pattern words wrong in /proc/PID/mem");
		ASSERT_EQ(6, write(in2[1], "hello\n", 6));
	}
	if (read_line(out2[0], line, sizeof(line))) {
		ckpt_show_errlog(_metadata, self->errlog);
		ASSERT_TRUE(false) TH_LOG("no report: %s", line);
	}
	line[strcspn(line, "\n")] = 0;
	EXPECT_STREQ(want, line);
	if (strcmp(mode, "read")) {
		/* blocked in its last read() of fd 0: the pattern through /proc */
		ASSERT_EQ(0, wait_syscall(self->restored, "0 0x0 ", seen, sizeof(seen)))
			TH_LOG("the restored process is not in read(0): %s", seen);
		bad = bad_words(self->restored, addr, len);
		EXPECT_EQ(0, bad) TH_LOG("pattern words wrong in /proc/PID/mem");
	}
	/* fd 0 ends: it exits with 0 */
	close(in2[1]);
	if (through_pipe) {
		close(dpipe[0]);
		close(dpipe[1]);
	}
	ASSERT_EQ(self->restored, waitpid(self->restored, &status, 0));
	self->restored = -1;
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status)) TH_LOG("status %#x", status);
	close(in[1]);
	close(out[0]);
	close(out2[0]);
	close(null);
}

/* 68 MiB from a file; read() restarts and gets the data written after the restore. */
TEST_F_TIMEOUT(ps, big_image_from_file_read_restarts, 900)
{
	stream_case(_metadata, self, "read", BIG_MIB, "0 0x0 ", false,
		    "ret=6 errno=0 bad=0 data=hello");
}

/* 68 MiB through a pipe; nanosleep() returns EINTR. */
TEST_F_TIMEOUT(ps, big_image_through_pipe_nanosleep_eintr, 900)
{
	stream_case(_metadata, self, "nanosleep", BIG_MIB, "35 ", true,
		    "ret=-1 errno=4 bad=0 data=");
}

TEST_F_TIMEOUT(ps, clock_nanosleep_eintr, 300)
{
	stream_case(_metadata, self, "clock_nanosleep", 1, "230 ", false,
		    "ret=-1 errno=4 bad=0 data=");
}

/* wait4() restarts: the restored process has no child (ECHILD). */
TEST_F_TIMEOUT(ps, wait4_restarts, 300)
{
	stream_case(_metadata, self, "wait4", 1, "61 ", false, "ret=-1 errno=10 bad=0 data=");
}

TEST_HARNESS_MAIN
