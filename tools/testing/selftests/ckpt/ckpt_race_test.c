// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency around the ioctls, each for a bounded time:
 *
 *   - while CKPT_IOC_RESTART installs, another thread of the caller dup2()s
 *     into and closes the image's even fds, and opens and closes files of its
 *     own: every attempt either fails and leaves the odd fds (which no other
 *     thread dup2()s into) as they were, but for the fd at fault (the other
 *     thread's open() took it while it was the lowest free fd), or succeeds
 *     with the restored file at every odd fd; the same with
 *     CKPT_RESTART_REPLACE_FDS over files the caller had there; nothing leaks
 *     (the file system unmounts, file-nr);
 *   - a target that shares its fd table with another running process (clone
 *     with CLONE_FILES, without CLONE_THREAD) is refused like a
 *     multi-threaded one (EBUSY, CKPT_REASON_TARGET): the other process could
 *     change the table while it is read (Documentation/checkpoint.rst);
 *   - processes checkpointing and restarting themselves in parallel, under
 *     lockdep and KASAN (vm-run fails on any report).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/ckpt.h>

#include "kselftest_harness.h"

#define FD0		300
#define NFDS		8
#define MAX_EXT		128

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long file_nr(void)
{
	char b[64] = "";
	int fd = open("/proc/sys/fs/file-nr", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, b, sizeof(b) - 1) <= 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return atol(b);
}

static int open_fds(int *fds, int max)
{
	int n = 0;

	for (int fd = 0; fd < 1024 && n < max; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			fds[n++] = fd;
	return n;
}

static int checkpoint(int dev, int out, pid_t pid, const int *ext, int next,
		      struct ckpt_checkpoint *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = out;
	c->pid = pid;
	c->external_fds = (__u64)(unsigned long)ext;
	c->nr_external_fds = next;
	return ioctl(dev, CKPT_IOC_CHECKPOINT, c);
}

static int restart(int dev, int in, __u64 flags, struct ckpt_restart *r)
{
	memset(r, 0, sizeof(*r));
	r->fd = in;
	r->flags = flags;
	if (lseek(in, 0, SEEK_SET))
		return -1;
	return ioctl(dev, CKPT_IOC_RESTART, r);
}

static bool same_file(int fd, const struct stat *want)
{
	struct stat st;

	return !fstat(fd, &st) && st.st_dev == want->st_dev && st.st_ino == want->st_ino;
}

FIXTURE(race) {
	int dev;
	char dir[64];
	long file_nr;
};

FIXTURE_SETUP(race)
{
	if (getuid() != 0)
		SKIP(return, "needs root (mounts a tmpfs)");
	self->dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_GE(self->dev, 0) TH_LOG("open /dev/ckpt: %s", strerror(errno));
	strcpy(self->dir, "/tmp/ckpt-race-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	ASSERT_EQ(0, mount("tmpfs", self->dir, "tmpfs", 0, "size=64m"));
	self->file_nr = file_nr();
}

FIXTURE_TEARDOWN(race)
{
	if (self->dir[0]) {
		umount2(self->dir, MNT_DETACH);
		rmdir(self->dir);
	}
	close(self->dev);
}

/* Every file the test opened on its tmpfs is closed: it must unmount, file-nr settle. */
static void no_leak(struct __test_metadata *_metadata, FIXTURE_DATA(race) *self)
{
	long after;

	usleep(100000);
	ASSERT_EQ(0, umount2(self->dir, 0))
		TH_LOG("umount: %s (a file reference leaked?)", strerror(errno));
	rmdir(self->dir);
	self->dir[0] = '\0';
	after = file_nr();
	ASSERT_LT(after, self->file_nr + 64) TH_LOG("file-nr %ld -> %ld", self->file_nr, after);
}

/* ---- restart against other threads of the caller ---- */

struct meddler {
	volatile bool stop;
	int junk;
	int delay_us;	/* it starts after up to this long */
	const char *dir;
	long dups, closes, opens;
};

static void *meddle(void *arg)
{
	struct meddler *m = arg;
	char p[128];
	unsigned int i = 0;

	snprintf(p, sizeof(p), "%s/junk", m->dir);
	/* start somewhere in the restart: early, in the checks, or in the install */
	usleep(rand() % m->delay_us);
	while (!m->stop) {
		int fd = FD0 + 2 * (i++ % (NFDS / 2));

		if (dup2(m->junk, fd) == fd)
			m->dups++;
		if (i % 3 == 0 && close(fd) == 0)
			m->closes++;
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			m->opens++;
			close(fd);
		}
	}
	return NULL;
}

static void restart_under_meddling(struct __test_metadata *_metadata, FIXTURE_DATA(race) *self,
				   bool replace)
{
	int ext[MAX_EXT], next, img, ok = 0, failed = 0, attempts = 0, odd_at_fault = 0;
	struct stat restored[NFDS], other;
	struct ckpt_checkpoint c;
	struct ckpt_restart r;
	struct meddler m = { .dir = self->dir };
	char p[128];
	pthread_t t;
	double end;

	snprintf(p, sizeof(p), "%s/image", self->dir);
	img = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_GE(img, 0);
	snprintf(p, sizeof(p), "%s/junk", self->dir);
	m.junk = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_GE(m.junk, 0);
	snprintf(p, sizeof(p), "%s/other", self->dir);
	ASSERT_EQ(0, close(open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644)));
	ASSERT_EQ(0, stat(p, &other));
	next = open_fds(ext, MAX_EXT);
	for (int i = 0; i < NFDS; i++) {
		int fd;

		snprintf(p, sizeof(p), "%s/f%d", self->dir, i);
		fd = open(p, O_RDWR | O_CREAT, 0644);
		ASSERT_GE(fd, 0);
		ASSERT_EQ(FD0 + i, dup2(fd, FD0 + i));
		close(fd);
		ASSERT_EQ(0, fstat(FD0 + i, &restored[i]));
	}
	ASSERT_EQ(0, checkpoint(self->dev, img, 0, ext, next, &c)) TH_LOG("%s", strerror(errno));
	for (int i = 0; i < NFDS; i++)
		close(FD0 + i);
	/* how long an undisturbed restart takes: the other thread starts within that */
	{
		double t0 = now();

		ASSERT_EQ(0, restart(self->dev, img, 0, &r));
		m.delay_us = (now() - t0) * 1e6 + 1;
		for (int i = 0; i < NFDS; i++)
			close(FD0 + i);
	}

	end = now() + 3;
	while (now() < end) {
		/* the odd fds: free, or (replace) another file */
		snprintf(p, sizeof(p), "%s/other", self->dir);
		for (int i = 1; i < NFDS; i += 2) {
			close(FD0 + i);
			if (replace) {
				int fd = open(p, O_RDONLY | O_CLOEXEC);

				ASSERT_EQ(FD0 + i, dup2(fd, FD0 + i));
				close(fd);
			}
		}
		for (int i = 0; i < NFDS; i += 2)
			close(FD0 + i);
		m.stop = false;
		ASSERT_EQ(0, pthread_create(&t, NULL, meddle, &m));
		attempts++;
		if (restart(self->dev, img, replace ? CKPT_RESTART_REPLACE_FDS : 0, &r) == 0) {
			m.stop = true;
			pthread_join(t, NULL);
			ok++;
			/* every odd fd is the restored file (the even ones are fair game) */
			for (int i = 1; i < NFDS; i += 2) {
				ASSERT_TRUE(same_file(FD0 + i, &restored[i]))
					TH_LOG("attempt %d: fd %d is not the restored file",
					       attempts, FD0 + i);
			}
		} else {
			int err = errno;

			m.stop = true;
			pthread_join(t, NULL);
			failed++;
			ASSERT_EQ(EBUSY, err) TH_LOG("attempt %d: %s, reason %u, err_fd %d", attempts,
						     strerror(err), r.reason, r.err_fd);
			ASSERT_EQ((__u32)CKPT_REASON_FD_BUSY, r.reason);
			/*
			 * The fd at fault is one the other thread took: an even one by
			 * dup2(), or any one by open() while it was the lowest free fd
			 * (a slot not reserved yet, or emptied by a replacing restart).
			 */
			ASSERT_TRUE(r.err_fd >= FD0 && r.err_fd < FD0 + NFDS)
				TH_LOG("err_fd %d", r.err_fd);
			ASSERT_EQ(0U, r.nr_fds);
			if ((r.err_fd - FD0) % 2)
				odd_at_fault++;
			/* the odd fds are as they were, but for the one at fault */
			for (int i = 1; i < NFDS; i += 2) {
				if (FD0 + i == r.err_fd) {
					/* its file (if replaced) closed, as a dup2() would */
					ASSERT_TRUE(same_file(FD0 + i, &other) ||
						    fcntl(FD0 + i, F_GETFD) == -1)
						TH_LOG("attempt %d: fd %d holds another file",
						       attempts, FD0 + i);
				} else if (replace) {
					ASSERT_TRUE(same_file(FD0 + i, &other))
						TH_LOG("attempt %d: fd %d lost its file", attempts,
						       FD0 + i);
				} else {
					ASSERT_EQ(-1, fcntl(FD0 + i, F_GETFD))
						TH_LOG("attempt %d: fd %d installed by a failed restart",
						       attempts, FD0 + i);
				}
			}
		}
	}
	TH_LOG("%d restarts%s (%d us each): %d succeeded, %d failed (EBUSY, %d at an odd fd); "
	       "the other thread: %ld dup2s, %ld closes, %ld opens", attempts,
	       replace ? " replacing fds" : "", m.delay_us, ok, failed, odd_at_fault, m.dups,
	       m.closes, m.opens);
	for (int i = 0; i < NFDS; i++)
		close(FD0 + i);
	close(m.junk);
	close(img);
	no_leak(_metadata, self);
}

TEST_F_TIMEOUT(race, restart_while_another_thread_meddles, 120)
{
	restart_under_meddling(_metadata, self, false);
}

TEST_F_TIMEOUT(race, restart_replacing_while_another_thread_meddles, 120)
{
	restart_under_meddling(_metadata, self, true);
}

/* ---- a shared fd table ---- */

static int sharer(void *arg)
{
	int junk = *(int *)arg;

	prctl(PR_SET_PDEATHSIG, SIGKILL);

	/* keeps changing the table it shares with the checkpointed process */
	for (;;) {
		dup2(junk, FD0);
		close(FD0);
	}
	return 0;
}

TEST_F_TIMEOUT(race, checkpoint_of_a_shared_fd_table, 60)
{
	int ext[MAX_EXT], next, out, status, junk;
	struct ckpt_checkpoint c;
	char p[128];
	pid_t target, *other;

	other = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, other);
	*other = 0;
	snprintf(p, sizeof(p), "%s/image", self->dir);
	out = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_GE(out, 0);
	snprintf(p, sizeof(p), "%s/junk", self->dir);
	junk = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_GE(junk, 0);
	next = open_fds(ext, MAX_EXT);

	target = fork();
	ASSERT_GE(target, 0);
	if (target == 0) {
		void *stack = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		pid_t pid;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (stack == MAP_FAILED)
			_exit(2);
		/* another process (own pid, own signal handling) on the same fd table */
		pid = clone(sharer, (char *)stack + (1 << 16), CLONE_FILES | SIGCHLD, &junk);
		if (pid < 0)
			_exit(3);
		__atomic_store_n(other, pid, __ATOMIC_SEQ_CST);
		for (;;)
			pause();
	}
	for (int i = 0; i < 500 && !__atomic_load_n(other, __ATOMIC_SEQ_CST); i++)
		usleep(10000);
	ASSERT_NE(0, *other);
	ASSERT_EQ(0, ptrace(PTRACE_SEIZE, target, 0, 0));
	ASSERT_EQ(0, ptrace(PTRACE_INTERRUPT, target, 0, 0));
	ASSERT_EQ(target, waitpid(target, &status, __WALL));
	for (int i = 0; i < 20; i++) {
		ASSERT_EQ(0, ftruncate(out, 0));
		ASSERT_EQ(0, lseek(out, 0, SEEK_SET));
		ASSERT_EQ(-1, checkpoint(self->dev, out, target, ext, next, &c))
			TH_LOG("a table another process changes was checkpointed");
		ASSERT_EQ(EBUSY, errno);
		ASSERT_EQ((__u32)CKPT_REASON_TARGET, c.reason);
	}
	kill(*other, SIGKILL);
	ptrace(PTRACE_DETACH, target, 0, 0);
	kill(target, SIGKILL);
	waitpid(target, NULL, 0);
	usleep(200000);
	close(junk);
	close(out);
	munmap(other, 4096);
	no_leak(_metadata, self);
}

/* ---- many at once ---- */

static int cycle(int dev, const char *dir, int id, double end)
{
	int ext[MAX_EXT], next, img, fd, rounds = 0;
	struct ckpt_checkpoint c;
	struct ckpt_restart r;
	char p[128], buf[4];

	snprintf(p, sizeof(p), "%s/img%d", dir, id);
	img = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	next = open_fds(ext, MAX_EXT);
	snprintf(p, sizeof(p), "%s/data%d", dir, id);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (img < 0 || fd < 0 || write(fd, "abcdef", 6) != 6 || dup2(fd, FD0) != FD0 ||
	    dup2(fd, FD0 + 1) != FD0 + 1)
		return -1;
	close(fd);
	if (lseek(FD0, 2, SEEK_SET) != 2)
		return -1;
	while (now() < end) {
		if (ftruncate(img, 0) || lseek(img, 0, SEEK_SET))
			return -2;
		if (checkpoint(dev, img, 0, ext, next, &c))
			return -3;
		close(FD0);
		close(FD0 + 1);
		if (restart(dev, img, 0, &r) || r.nr_fds != 2)
			return -4;
		/* the shared offset came back: reading one fd advances the other */
		if (read(FD0, buf, 1) != 1 || buf[0] != 'c' || lseek(FD0 + 1, 0, SEEK_CUR) != 3)
			return -5;
		if (lseek(FD0, 2, SEEK_SET) != 2)
			return -6;
		rounds++;
	}
	close(FD0);
	close(FD0 + 1);
	close(img);
	return rounds;
}

TEST_F_TIMEOUT(race, parallel_checkpoint_restart, 120)
{
	int status, total = 0;
	pid_t kids[4];
	double end = now() + 4;
	int *rounds = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, rounds);
	for (int i = 0; i < 4; i++) {
		kids[i] = fork();
		ASSERT_GE(kids[i], 0);
		if (kids[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			rounds[i] = cycle(self->dev, self->dir, i, end);
			_exit(rounds[i] > 0 ? 0 : 1);
		}
	}
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(kids[i], waitpid(kids[i], &status, 0));
		EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("process %d: %d", i, rounds[i]);
		total += rounds[i] > 0 ? rounds[i] : 0;
	}
	TH_LOG("4 processes, %d checkpoint/restart rounds in all", total);
	munmap(rounds, 4096);
	no_leak(_metadata, self);
}

TEST_HARNESS_MAIN
