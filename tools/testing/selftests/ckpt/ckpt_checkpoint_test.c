// SPDX-License-Identifier: GPL-2.0
/*
 * CKPT_IOC_CHECKPOINT: who may be checkpointed, deny by default with the fd
 * and kind named, unlinked files, output to files and pipes, argument errors.
 * The image contents are asserted by ckpt_dump.sh through the codec (ckpt
 * show --json); here we check the ABI.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/ckpt.h>

#include "kselftest_harness.h"
#include "ckpt_selftest.h"

#define MAX_EXTERNAL 64

/* The fds of @pid that are pipes, sockets or terminals: what ckpt dump treats as external. */
static int collect_external(pid_t pid, int *ext)
{
	char dir[64], link[PATH_MAX];
	struct dirent *d;
	struct stat st;
	int n = 0;
	DIR *dp;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	dp = opendir(dir);
	if (!dp)
		return -1;
	while ((d = readdir(dp)) && n < MAX_EXTERNAL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, d->d_name);
		if (stat(link, &st))
			continue;
		if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
		    (S_ISCHR(st.st_mode) && (major(st.st_rdev) == 4 || major(st.st_rdev) == 5 ||
					     (major(st.st_rdev) >= 136 && major(st.st_rdev) <= 143))))
			ext[n++] = atoi(d->d_name);
	}
	closedir(dp);
	/* the opendir() fd itself was listed if it is one of these: it is not */
	return n;
}

FIXTURE(ckpt) {
	int dev;
	char dir[64];
	char out_path[128];
	int out;
	int ext[MAX_EXTERNAL];
	int next;
};

FIXTURE_SETUP(ckpt)
{
	self->dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_GE(self->dev, 0);
	strcpy(self->dir, "/tmp/ckpt-test-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	ASSERT_EQ(0, mount("tmpfs", self->dir, "tmpfs", 0, "size=64m"));
	snprintf(self->out_path, sizeof(self->out_path), "%s/image", self->dir);
	/* the image is not part of what is checkpointed: close-on-exec or not, it is an fd
	 * of ours, so declare it external */
	self->out = open(self->out_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_GE(self->out, 0);
	self->next = collect_external(getpid(), self->ext);
	ASSERT_GE(self->next, 0);
	self->ext[self->next++] = self->out;
	self->ext[self->next++] = self->dev;
}

FIXTURE_TEARDOWN(ckpt)
{
	close(self->out);
	umount2(self->dir, MNT_DETACH);
	rmdir(self->dir);
	close(self->dev);
}

TEST_F(ckpt, self_into_tmpfs_file)
{
	char magic[8];
	struct ckpt_ck r;
	struct stat st;

	ckpt_checkpoint(self->dev, self->out, 0, self->ext, self->next, &r);
	ASSERT_EQ(0, r.rc) TH_LOG("errno %d: %s", r.err, r.log);
	ASSERT_EQ(-1, r.a.err_fd);
	ASSERT_EQ((__u32)CKPT_REASON_NONE, r.a.reason);
	/* env vector, files, file table, task, task vector, terminator */
	ASSERT_GE(r.a.records, 6ULL);
	ASSERT_EQ(0, fstat(self->out, &st));
	ASSERT_EQ((__u64)st.st_size, r.a.bytes);
	ASSERT_EQ(8, pread(self->out, magic, 8, 0));
	ASSERT_EQ(0, memcmp(magic, "LinuxC/R", 8));
	/* written at the file's position, as write(2) would */
	ASSERT_EQ((off_t)r.a.bytes, lseek(self->out, 0, SEEK_CUR));
}

TEST_F(ckpt, deny_eventfd_names_fd_and_kind)
{
	int efd = eventfd(0, 0);
	char want[32];
	struct ckpt_ck r;

	ASSERT_GE(efd, 0);
	ckpt_checkpoint(self->dev, self->out, 0, self->ext, self->next, &r);
	ASSERT_EQ(-1, r.rc);
	ASSERT_EQ(EOPNOTSUPP, r.err);
	ASSERT_EQ(efd, r.a.err_fd);
	ASSERT_EQ((__u32)CKPT_REASON_UNSUPPORTED_FILE, r.a.reason);
	snprintf(want, sizeof(want), "fd %d: ", efd);
	ASSERT_NE(NULL, strstr(r.log, want)) TH_LOG("log: %s", r.log);
	ASSERT_NE(NULL, strstr(r.log, "[eventfd]")) TH_LOG("log: %s", r.log);
	close(efd);
}

/* Deny by default, whatever the kind: each refusal names the fd and says what it is. */
static void expect_denied(struct __test_metadata *_metadata, int dev, int out, const int *ext,
			  int n, int fd, const char *kind)
{
	char want[32];
	struct ckpt_ck r;

	ckpt_checkpoint(dev, out, 0, ext, n, &r);
	ASSERT_EQ(-1, r.rc);
	ASSERT_EQ(EOPNOTSUPP, r.err);
	ASSERT_EQ(fd, r.a.err_fd);
	ASSERT_EQ((__u32)CKPT_REASON_UNSUPPORTED_FILE, r.a.reason);
	snprintf(want, sizeof(want), "fd %d: ", fd);
	ASSERT_NE(NULL, strstr(r.log, want)) TH_LOG("log: %s", r.log);
	ASSERT_NE(NULL, strstr(r.log, kind)) TH_LOG("log: %s (want %s)", r.log, kind);
}

TEST_F(ckpt, deny_procfs_file)
{
	int fd = open("/proc/self/status", O_RDONLY);

	ASSERT_GE(fd, 0);
	expect_denied(_metadata, self->dev, self->out, self->ext, self->next, fd, "procfs file");
	close(fd);
}

TEST_F(ckpt, deny_socket)
{
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	expect_denied(_metadata, self->dev, self->out, self->ext, self->next, sv[0], "socket");
	close(sv[0]);
	close(sv[1]);
}

TEST_F(ckpt, deny_stateful_char_device)
{
	/* /dev/kmsg (1:11) has a per-open read position in the log: not reopenable by path */
	int fd = open("/dev/kmsg", O_RDONLY);

	ASSERT_GE(fd, 0);
	expect_denied(_metadata, self->dev, self->out, self->ext, self->next, fd,
		      "char device 1:11");
	close(fd);
}

TEST_F(ckpt, deny_pipe_unless_external)
{
	struct ckpt_ck r;
	int p[2];

	ASSERT_EQ(0, pipe(p));
	ckpt_checkpoint(self->dev, self->out, 0, self->ext, self->next, &r);
	ASSERT_EQ(-1, r.rc);
	ASSERT_EQ(EOPNOTSUPP, r.err);
	ASSERT_EQ(p[0], r.a.err_fd);
	ASSERT_NE(NULL, strstr(r.log, "pipe")) TH_LOG("log: %s", r.log);

	self->ext[self->next++] = p[0];
	self->ext[self->next++] = p[1];
	ASSERT_EQ(0, ftruncate(self->out, 0));
	ASSERT_EQ(0, lseek(self->out, 0, SEEK_SET));
	ckpt_checkpoint(self->dev, self->out, 0, self->ext, self->next, &r);
	ASSERT_EQ(0, r.rc) TH_LOG("errno %d: %s", r.err, r.log);
	close(p[0]);
	close(p[1]);
}

TEST_F(ckpt, deny_unlinked_file)
{
	char path[160];
	struct ckpt_ck r;
	int fd;

	snprintf(path, sizeof(path), "%s/gone", self->dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, unlink(path));
	ckpt_checkpoint(self->dev, self->out, 0, self->ext, self->next, &r);
	ASSERT_EQ(-1, r.rc);
	ASSERT_EQ(EOPNOTSUPP, r.err);
	ASSERT_EQ(fd, r.a.err_fd);
	ASSERT_EQ((__u32)CKPT_REASON_UNLINKED_FILE, r.a.reason);
	ASSERT_NE(NULL, strstr(r.log, "unlinked")) TH_LOG("log: %s", r.log);
	close(fd);
}

TEST_F(ckpt, tmpfs_file_and_dev_null_are_supported)
{
	char path[160];
	struct ckpt_ck r;
	int fd, null;

	snprintf(path, sizeof(path), "%s/data", self->dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	ASSERT_GE(fd, 0);
	null = open("/dev/null", O_WRONLY);
	ASSERT_GE(null, 0);
	ASSERT_EQ(5, write(fd, "hello", 5));
	ckpt_checkpoint(self->dev, self->out, 0, self->ext, self->next, &r);
	ASSERT_EQ(0, r.rc) TH_LOG("errno %d: %s", r.err, r.log);
	close(fd);
	close(null);
}

TEST_F(ckpt, argument_errors)
{
	int ro, too_many[CKPT_MAX_EXTERNAL_FDS + 1] = { 0 };
	int not_open[] = { 999 };
	struct ckpt_ck r;

	ckpt_checkpoint(self->dev, -1, 0, self->ext, self->next, &r);
	ASSERT_EQ(EBADF, r.err);
	ckpt_checkpoint(self->dev, 4242, 0, self->ext, self->next, &r);
	ASSERT_EQ(EBADF, r.err);
	ro = open(self->out_path, O_RDONLY);
	ASSERT_GE(ro, 0);
	self->ext[self->next++] = ro;
	ckpt_checkpoint(self->dev, ro, 0, self->ext, self->next, &r);
	ASSERT_EQ(EBADF, r.err);
	ASSERT_EQ((__u32)CKPT_REASON_BAD_ARGUMENT, r.a.reason);

	ckpt_checkpoint(self->dev, self->out, 0, too_many, CKPT_MAX_EXTERNAL_FDS + 1, &r);
	ASSERT_EQ(EINVAL, r.err);
	ckpt_checkpoint(self->dev, self->out, 0, not_open, 1, &r);
	ASSERT_EQ(EBADF, r.err);
	ASSERT_EQ(999, r.a.err_fd);

	memset(&r, 0, sizeof(r));
	r.a.fd = self->out;
	r.a.flags = 1ULL << 63;	/* bit 0 is CKPT_CHECKPOINT_PROCESS */
	ASSERT_EQ(-1, ioctl(self->dev, CKPT_IOC_CHECKPOINT, &r.a));
	ASSERT_EQ(EINVAL, errno);

	/* a bad external_fds pointer */
	memset(&r, 0, sizeof(r));
	r.a.fd = self->out;
	r.a.external_fds = 8;
	r.a.nr_external_fds = 2;
	ASSERT_EQ(-1, ioctl(self->dev, CKPT_IOC_CHECKPOINT, &r.a));
	ASSERT_EQ(EFAULT, errno);
	close(ro);
}

TEST_F(ckpt, no_such_process)
{
	struct ckpt_ck r;

	ckpt_checkpoint(self->dev, self->out, INT_MAX - 1, self->ext, self->next, &r);
	ASSERT_EQ(ESRCH, r.err);
	ASSERT_EQ((__u32)CKPT_REASON_TARGET, r.a.reason);
}

static pid_t spawn_sleeper(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

TEST_F(ckpt, untraced_child_is_eperm)
{
	struct ckpt_ck r;
	pid_t child = spawn_sleeper();

	ASSERT_GT(child, 0);
	ckpt_checkpoint(self->dev, self->out, child, self->ext, self->next, &r);
	ASSERT_EQ(EPERM, r.err);
	ASSERT_EQ((__u32)CKPT_REASON_TARGET, r.a.reason);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

TEST_F(ckpt, traced_child_running_is_ebusy_stopped_is_ok)
{
	int ext[MAX_EXTERNAL], n, status;
	struct ckpt_ck r;
	pid_t child = spawn_sleeper();

	ASSERT_GT(child, 0);
	ASSERT_EQ(0, ptrace(PTRACE_SEIZE, child, 0, 0));
	ckpt_checkpoint(self->dev, self->out, child, self->ext, self->next, &r);
	ASSERT_EQ(EBUSY, r.err);
	ASSERT_EQ((__u32)CKPT_REASON_TARGET, r.a.reason);

	ASSERT_EQ(0, ptrace(PTRACE_INTERRUPT, child, 0, 0));
	ASSERT_EQ(child, waitpid(child, &status, __WALL));
	ASSERT_TRUE(WIFSTOPPED(status));
	n = collect_external(child, ext);
	ASSERT_GE(n, 0);
	/* the child inherited our image and device fds */
	ext[n++] = self->out;
	ext[n++] = self->dev;
	ckpt_checkpoint(self->dev, self->out, child, ext, n, &r);
	ASSERT_EQ(0, r.rc) TH_LOG("errno %d: %s", r.err, r.log);
	ASSERT_GE(r.a.records, 6ULL);

	/* the target is unharmed: detach and it runs on */
	ASSERT_EQ(0, ptrace(PTRACE_DETACH, child, 0, 0));
	ASSERT_EQ(0, kill(child, 0));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

TEST_F(ckpt, into_a_pipe_with_a_slow_reader)
{
	const size_t cap = 4 << 20;
	struct { size_t total; uint8_t b[]; } *seen;
	int p[2], status;
	struct ckpt_ck r;
	const char *bad;
	pid_t reader;

	/* what the reader receives, for the parent to check byte by byte */
	seen = mmap(NULL, sizeof(*seen) + cap, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		    -1, 0);
	ASSERT_NE(MAP_FAILED, seen);
	ASSERT_EQ(0, pipe(p));
	/* a small pipe forces many blocking writes */
	fcntl(p[1], F_SETPIPE_SZ, 4096);
	reader = fork();
	ASSERT_GE(reader, 0);
	if (reader == 0) {
		ssize_t n;

		close(p[1]);
		while ((n = read(p[0], seen->b + seen->total,
				 seen->total + 512 <= cap ? 512 : cap - seen->total)) > 0) {
			seen->total += n;
			usleep(1000);
		}
		_exit(n < 0);
	}
	close(p[0]);
	self->ext[self->next++] = p[1];
	ckpt_checkpoint(self->dev, p[1], 0, self->ext, self->next, &r);
	close(p[1]);
	ASSERT_EQ(0, r.rc) TH_LOG("errno %d: %s", r.err, r.log);
	ASSERT_EQ(reader, waitpid(reader, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* the reader saw exactly the bytes reported, and they are one whole image */
	ASSERT_EQ(r.a.bytes, (__u64)seen->total);
	bad = ckpt_image_whole(seen->b, seen->total);
	ASSERT_EQ(NULL, bad) TH_LOG("the bytes read from the pipe: %s", bad);
	munmap(seen, sizeof(*seen) + cap);
}

/* Runs @fn in a child that dropped to uid/gid 65534; returns its exit status. */
static int as_nobody(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(100);
		_exit(fn(arg));
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

struct unpriv {
	int dev;
	char path[160];
	pid_t root_child;
	const int *ext;
	int n;
};

/* An unprivileged caller checkpoints itself into a file it can write. */
static int unpriv_self(void *arg)
{
	struct unpriv *u = arg;
	int ext[MAX_EXTERNAL + 2], n, out;
	struct ckpt_ck r;

	out = open(u->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (out < 0)
		return 10;
	memcpy(ext, u->ext, u->n * sizeof(int));
	n = u->n;
	ext[n++] = out;
	ckpt_checkpoint(u->dev, out, 0, ext, n, &r);
	return r.rc == 0 ? 0 : 11;
}

/* ... but it cannot trace, so cannot checkpoint, a root process. */
static int unpriv_other(void *arg)
{
	struct unpriv *u = arg;
	struct ckpt_ck r;
	int out = open(u->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (out < 0)
		return 10;
	ckpt_checkpoint(u->dev, out, u->root_child, u->ext, u->n, &r);
	if (r.err != EPERM || r.a.reason != CKPT_REASON_TARGET)
		return 12;
	if (ptrace(PTRACE_SEIZE, u->root_child, 0, 0) == 0 || errno != EPERM)
		return 13;
	return 0;
}

TEST_F(ckpt, unprivileged_caller)
{
	struct unpriv u = { .dev = self->dev, .ext = self->ext, .n = self->next };

	ASSERT_EQ(0, chmod(self->dir, 0777));
	snprintf(u.path, sizeof(u.path), "%s/nobody.img", self->dir);
	ASSERT_EQ(0, as_nobody(unpriv_self, &u));

	u.root_child = spawn_sleeper();
	ASSERT_GT(u.root_child, 0);
	ASSERT_EQ(0, as_nobody(unpriv_other, &u));
	kill(u.root_child, SIGKILL);
	waitpid(u.root_child, NULL, 0);
}

/*
 * A setuid-root program run by an unprivileged user: real uid the user's,
 * effective and saved uid 0. The user may not ptrace it (ptrace_may_access
 * wants all three uids to match), so may not checkpoint it either.
 */
static pid_t spawn_setuid_like(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (setresgid(65534, 0, 0) || setresuid(65534, 0, 0))
			_exit(100);
		for (;;)
			pause();
	}
	return pid;
}

TEST_F(ckpt, unprivileged_caller_and_setuid_process)
{
	struct unpriv u = { .dev = self->dev, .ext = self->ext, .n = self->next };

	ASSERT_EQ(0, chmod(self->dir, 0777));
	snprintf(u.path, sizeof(u.path), "%s/nobody-setuid.img", self->dir);
	u.root_child = spawn_setuid_like();
	ASSERT_GT(u.root_child, 0);
	ASSERT_EQ(0, as_nobody(unpriv_other, &u));
	kill(u.root_child, SIGKILL);
	waitpid(u.root_child, NULL, 0);
}

TEST_F_TIMEOUT(ckpt, ten_thousand_files, 600)
{
	struct rlimit lim = { 11000, 11000 };
	struct ckpt_ck r;
	char path[160];
	int i, first = -1, fd;

	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &lim));
	snprintf(path, sizeof(path), "%s/many", self->dir);
	/* 10 000 open file descriptions of one tmpfs file: 10 000 file records */
	for (i = 0; i < 10000; i++) {
		fd = open(path, O_RDONLY | O_CREAT, 0600);
		ASSERT_GE(fd, 0) TH_LOG("open #%d: %s", i, strerror(errno));
		if (first < 0)
			first = fd;
	}
	ckpt_checkpoint(self->dev, self->out, 0, self->ext, self->next, &r);
	ASSERT_EQ(0, r.rc) TH_LOG("errno %d: %s", r.err, r.log);
	ASSERT_GE(r.a.records, 10000ULL + 5);
	for (fd = first; fd < first + 10000; fd++)
		close(fd);
}

TEST_HARNESS_MAIN
