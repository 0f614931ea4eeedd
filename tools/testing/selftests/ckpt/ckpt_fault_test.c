// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation failures inside the ioctls, injected deterministically with the
 * kernel's per-task fail-nth (Documentation/fault-injection/fault-injection.rst,
 * "Systematic faults using fail-nth"): before CKPT_IOC_ENV,
 * CKPT_IOC_CHECKPOINT and CKPT_IOC_RESTART the test writes n = 1, 2, 3, ...
 * to /proc/thread-self/fail-nth, so that the n-th slab or page allocation of
 * the call fails, until a call runs through without reaching its n-th
 * allocation. Every injected failure must
 *
 *   - fail with ENOMEM and a reason that passes the errno on
 *     (Documentation/checkpoint.rst and restart.rst: CKPT_REASON_NONE, or
 *     the reason of the failed open, read or write), or succeed with exactly
 *     the result of an undisturbed call (the kernel may recover, e.g. kvmalloc
 *     falling back to vmalloc);
 *   - leave the caller's fd table exactly as before (restart, also with
 *     CKPT_RESTART_REPLACE_FDS, whose install phase takes the caller's files
 *     out of the table before it puts the restored ones in);
 *   - leave the checkpointed task stopped, unharmed and able to run on;
 *   - leak nothing: the file system of the test unmounts (a file reference
 *     left behind keeps it busy), /proc/sys/fs/file-nr is back where it was,
 *     and kmemleak (judged by vm-run after the run) finds nothing.
 *
 * Each sweep prints how many fault points the call has, how many failed the
 * call and how many the kernel recovered from: kmemleak's own allocations
 * fall back to a pool, and kvrealloc() (behind the module's KVVec) retries a
 * failed krealloc() with kvmalloc(), so a single fault never fails a KVVec
 * allocation and the error paths behind those are not reached here.
 * CKPT_FAULT_VERBOSE=1 prints every restart attempt.
 *
 * restart_replace_install_fails reaches them with the module's own fault
 * attribute (/sys/kernel/debug/ckpt/fail_install/, src/fdtable.rs): each step
 * of a replacing install fails in turn after the caller's files were taken
 * out, and every file must be back at its fd.
 *
 * Needs root,
 * CONFIG_FAULT_INJECTION_DEBUG_FS, CONFIG_FAILSLAB and CONFIG_FAIL_PAGE_ALLOC:
 * slab and page allocations that may sleep are made eligible (by default
 * only atomic ones are), and the failure messages are kept out of the log
 * (verbose=0): an injected failure is not a kernel problem, and the run
 * still fails on every real report.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/ckpt.h>

#include "kselftest_harness.h"
#include "ckpt_selftest.h"

/* The fds the tests restore: well above what the harness leaves open. */
#define FD0		300
#define MAX_FDS		256
/* A call with more fault points than this is a runaway loop. */
#define MAX_POINTS	5000
/* /proc/sys/fs/file-nr is a per-cpu counter read without summing: allow its slack. */
#define FILE_NR_SLACK	64

/* ---- fault injection settings ---- */

struct knob {
	const char *path, *value;
	char old[32];
	bool saved;
};

static struct knob knobs[] = {
	{ .path = "/sys/kernel/debug/failslab/ignore-gfp-wait", .value = "N" },
	{ .path = "/sys/kernel/debug/failslab/verbose", .value = "0" },
	{ .path = "/sys/kernel/debug/failslab/task-filter", .value = "N" },
	{ .path = "/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", .value = "N" },
	{ .path = "/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem", .value = "N" },
	{ .path = "/sys/kernel/debug/fail_page_alloc/min-order", .value = "0" },
	{ .path = "/sys/kernel/debug/fail_page_alloc/verbose", .value = "0" },
	{ .path = "/sys/kernel/debug/fail_page_alloc/task-filter", .value = "N" },
};
#define NR_KNOBS (int)(sizeof(knobs) / sizeof(knobs[0]))
static pid_t main_pid;

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

static int read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static void __attribute__((destructor)) restore_knobs(void)
{
	if (getpid() != main_pid)
		return;
	for (int i = NR_KNOBS - 1; i >= 0; i--)
		if (knobs[i].saved)
			write_str(knobs[i].path, knobs[i].old);
}

/* Sets the knobs once per run (in the harness's own process); "" or why not. */
static const char *fault_setup(void)
{
	static char why[256];
	static bool done;
	struct stat st;

	if (done)
		return why;
	done = true;
	main_pid = getpid();
	if (stat("/sys/kernel/debug/failslab", &st))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	for (int i = 0; i < NR_KNOBS; i++) {
		if (read_str(knobs[i].path, knobs[i].old, sizeof(knobs[i].old))) {
			snprintf(why, sizeof(why), "%s: %s (CONFIG_FAULT_INJECTION_DEBUG_FS, "
				 "FAILSLAB, FAIL_PAGE_ALLOC?)", knobs[i].path, strerror(errno));
			return why;
		}
		knobs[i].saved = true;
		if (write_str(knobs[i].path, knobs[i].value)) {
			snprintf(why, sizeof(why), "%s: %s", knobs[i].path, strerror(errno));
			return why;
		}
	}
	return why;
}

/* The harness forks each test from the main process: set the knobs before that. */
static void __attribute__((constructor)) early_setup(void)
{
	if (getuid() == 0)
		fault_setup();
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- fail-nth ---- */

static int nth_open(void)
{
	return open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
}

static int nth_set(int fd, int n)
{
	char b[16];
	int l = snprintf(b, sizeof(b), "%d", n);

	return pwrite(fd, b, l, 0) == l ? 0 : -1;
}

/* Arms the n-th allocation of the task to fail. */
static void nth_arm(int fd, int n)
{
	nth_set(fd, n);
}

/* Whether the fault set up with nth_arm() was injected; disarms it. */
static bool nth_hit(int fd)
{
	char b[16] = "";
	bool hit = pread(fd, b, sizeof(b) - 1, 0) > 0 && atoi(b) == 0;

	nth_set(fd, 0);
	return hit;
}

/* ---- leaks ---- */

static long file_nr(void)
{
	char b[64];

	if (read_str("/proc/sys/fs/file-nr", b, sizeof(b)))
		return -1;
	return atol(b);
}

/* ---- the test's own files ---- */

static int write_file(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, content, strlen(content));
	close(fd);
	return n == (ssize_t)strlen(content) ? 0 : -1;
}

/* Opens @path at exactly fd @fdno, at position @pos. */
static int open_at(const char *path, int flags, int fdno, off_t pos)
{
	int fd = open(path, flags, 0644);

	if (fd < 0)
		return -1;
	if (fd != fdno) {
		if (dup3(fd, fdno, flags & O_CLOEXEC) != fdno) {
			close(fd);
			return -1;
		}
		close(fd);
	}
	if (pos && lseek(fdno, pos, SEEK_SET) != pos)
		return -1;
	return fdno;
}

/*
 * The files a test restores, at FD0 + i: a regular file at a position, a dup
 * of it (shared offset), a close-on-exec one, an appending one, a directory,
 * /dev/null; then @extra more opens of "data" (the many-fds variant).
 */
static int open_set(const char *dir, int extra)
{
	char p[PATH_MAX];
	int i = 0;

	snprintf(p, sizeof(p), "%s/data", dir);
	if (open_at(p, O_RDWR, FD0 + i++, 5) < 0)
		return -1;
	if (dup2(FD0, FD0 + i++) < 0)
		return -1;
	if (open_at(p, O_RDONLY | O_CLOEXEC, FD0 + i++, 7) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/log", dir);
	if (open_at(p, O_WRONLY | O_APPEND, FD0 + i++, 0) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/sub", dir);
	if (open_at(p, O_RDONLY | O_DIRECTORY, FD0 + i++, 0) < 0)
		return -1;
	if (open_at("/dev/null", O_WRONLY, FD0 + i++, 0) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/data", dir);
	for (int k = 0; k < extra; k++)
		if (open_at(p, O_RDONLY, FD0 + i++, k % 20) < 0)
			return -1;
	return i;
}

static void close_set(int n)
{
	for (int i = 0; i < n; i++)
		close(FD0 + i);
}

static int make_files(const char *dir)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/data", dir);
	if (write_file(p, "0123456789abcdefghijklmnopqrstuvwxyz"))
		return -1;
	snprintf(p, sizeof(p), "%s/log", dir);
	if (write_file(p, "log\n"))
		return -1;
	snprintf(p, sizeof(p), "%s/other", dir);
	if (write_file(p, "another file"))
		return -1;
	snprintf(p, sizeof(p), "%s/sub", dir);
	return mkdir(p, 0755);
}

/* ---- the calls ---- */

struct call {
	int rc, err;
	bool hit;
	union {
		struct ckpt_checkpoint ck;
		struct ckpt_restart rs;
	};
	char log[512];
};

static void checkpoint(int dev, int nth, int n, int out, pid_t pid, const int *ext, int next,
		       struct call *c)
{
	memset(c, 0, sizeof(*c));
	c->ck.fd = out;
	c->ck.pid = pid;
	c->ck.external_fds = (__u64)(unsigned long)ext;
	c->ck.nr_external_fds = next;
	c->ck.log_buf = (__u64)(unsigned long)c->log;
	c->ck.log_size = sizeof(c->log);
	if (n)
		nth_arm(nth, n);
	c->rc = ioctl(dev, CKPT_IOC_CHECKPOINT, &c->ck);
	c->err = c->rc ? errno : 0;
	c->hit = n && nth_hit(nth);
}

static void restart(int dev, int nth, int n, int in, __u64 flags, struct call *c)
{
	memset(c, 0, sizeof(*c));
	c->rs.fd = in;
	c->rs.flags = flags;
	c->rs.log_buf = (__u64)(unsigned long)c->log;
	c->rs.log_size = sizeof(c->log);
	if (n)
		nth_arm(nth, n);
	c->rc = ioctl(dev, CKPT_IOC_RESTART, &c->rs);
	c->err = c->rc ? errno : 0;
	c->hit = n && nth_hit(nth);
}

/* Reasons an injected ENOMEM may come with (the errno of an open, read or write passes on). */
static bool enomem_reason(__u32 reason)
{
	return reason == CKPT_REASON_NONE || reason == CKPT_REASON_FILE_ACCESS ||
	       reason == CKPT_REASON_INPUT || reason == CKPT_REASON_OUTPUT;
}

#define SKIP_UNLESS_READY() do { \
		const char *why; \
		if (getuid() != 0) \
			SKIP(return, "needs root"); \
		why = fault_setup(); \
		ASSERT_STREQ("", why); \
	} while (0)

/* ---- CKPT_IOC_ENV ---- */

TEST(env_sweep)
{
	static unsigned char ref[65536], buf[65536];
	struct ckpt_env a;
	int dev, nth, n, rc, err, failed = 0, recovered = 0;
	__u32 ref_len;
	bool hit;

	double t0 = now();

	SKIP_UNLESS_READY();
	dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_GE(dev, 0);
	nth = nth_open();
	ASSERT_GE(nth, 0) TH_LOG("/proc/thread-self/fail-nth: %s", strerror(errno));

	memset(&a, 0, sizeof(a));
	a.buf = (__u64)(unsigned long)ref;
	a.buf_size = sizeof(ref);
	ASSERT_EQ(0, ioctl(dev, CKPT_IOC_ENV, &a));
	ref_len = a.len;

	for (n = 1;; n++) {
		ASSERT_LT(n, MAX_POINTS);
		memset(buf, 0, sizeof(buf));
		memset(&a, 0, sizeof(a));
		a.buf = (__u64)(unsigned long)buf;
		a.buf_size = sizeof(buf);
		nth_arm(nth, n);
		rc = ioctl(dev, CKPT_IOC_ENV, &a);
		err = errno;
		hit = nth_hit(nth);
		if (rc) {
			ASSERT_TRUE(hit) TH_LOG("n=%d: failed without a fault: %s", n, strerror(err));
			ASSERT_EQ(ENOMEM, err) TH_LOG("n=%d: %s", n, strerror(err));
			failed++;
			continue;
		}
		/* a success, after a fault or not, is the undisturbed vector */
		ASSERT_EQ(ref_len, a.len) TH_LOG("n=%d (fault %s): vector of %u bytes, not %u",
						 n, hit ? "hit" : "not hit", a.len, ref_len);
		ASSERT_EQ(0, memcmp(ref, buf, ref_len)) TH_LOG("n=%d: another vector", n);
		if (!hit)
			break;
		recovered++;
	}
	TH_LOG("CKPT_IOC_ENV: %d fault points (%d failed with ENOMEM, %d recovered), %.1f s",
	       n - 1, failed, recovered, now() - t0);
	close(nth);
	close(dev);
}

/* ---- CKPT_IOC_CHECKPOINT ---- */

FIXTURE(fs) {
	int dev, nth;
	char base[64];
	long file_nr;
};

FIXTURE_VARIANT(fs) {
	const char *fs;
	int extra;	/* more fds besides the basic set */
};

FIXTURE_VARIANT_ADD(fs, tmpfs) { .fs = "tmpfs", .extra = 0 };
FIXTURE_VARIANT_ADD(fs, ext4) { .fs = "ext4", .extra = 0 };
FIXTURE_VARIANT_ADD(fs, tmpfs_many_fds) { .fs = "tmpfs", .extra = 12 };

FIXTURE_SETUP(fs)
{
	char err[PATH_MAX * 4];

	self->dev = -1;
	self->nth = -1;
	self->base[0] = '\0';
	SKIP_UNLESS_READY();
	self->dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_GE(self->dev, 0) TH_LOG("open /dev/ckpt: %s", strerror(errno));
	self->nth = nth_open();
	ASSERT_GE(self->nth, 0) TH_LOG("/proc/thread-self/fail-nth: %s", strerror(errno));
	snprintf(self->base, sizeof(self->base), "/tmp/ckpt-fault-%d", getpid());
	self->file_nr = file_nr();
	ASSERT_EQ(0, ckpt_mount_fs(variant->fs, self->base, strcmp(variant->fs, "tmpfs") ? 32 : 64,
				   "loop,noatime", err, sizeof(err))) TH_LOG("%s", err);
	ASSERT_EQ(0, make_files(self->base));
}

FIXTURE_TEARDOWN(fs)
{
	write_str("/sys/kernel/debug/ckpt/fail_install/probability", "0");
	if (self->nth >= 0)
		close(self->nth);
	if (self->dev >= 0)
		close(self->dev);
	if (self->base[0])
		umount2(self->base, MNT_DETACH);
}

/* The test closed every file of its file system: nothing may hold it, nothing leaked. */
static void leak_check(struct __test_metadata *_metadata, FIXTURE_DATA(fs) *self)
{
	long after;

	/* deferred fputs run on return to user space; let RCU frees settle */
	usleep(100000);
	ASSERT_EQ(0, ckpt_unmount_fs(self->base))
		TH_LOG("umount %s: %s (a file reference leaked?)", self->base, strerror(errno));
	self->base[0] = '\0';
	after = file_nr();
	ASSERT_LT(after, self->file_nr + FILE_NR_SLACK)
		TH_LOG("file-nr %ld before, %ld after", self->file_nr, after);
}

static void sweep_checkpoint_self(struct __test_metadata *_metadata, FIXTURE_DATA(fs) *self,
				  int extra)
{
	int ext[MAX_FDS], next, nfds, out, n, failed = 0, recovered = 0;
	struct ckpt_fdsnap before, cur;
	struct call ref, c;
	char p[PATH_MAX], msg[256];
	double t0 = now();

	snprintf(p, sizeof(p), "%s/image", self->base);
	out = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_GE(out, 0);
	next = ckpt_open_fds(ext, MAX_FDS);
	ASSERT_GT(next, 0);
	nfds = open_set(self->base, extra);
	ASSERT_GT(nfds, 0);

	checkpoint(self->dev, self->nth, 0, out, 0, ext, next, &ref);
	ASSERT_EQ(0, ref.rc) TH_LOG("%s: %s", strerror(ref.err), ref.log);
	ASSERT_EQ(0, lseek(out, 0, SEEK_SET));
	ASSERT_EQ(0, ckpt_fd_snapshot(&before));

	for (n = 1;; n++) {
		ASSERT_LT(n, MAX_POINTS);
		ASSERT_EQ(0, ftruncate(out, 0));
		ASSERT_EQ(0, lseek(out, 0, SEEK_SET));
		checkpoint(self->dev, self->nth, n, out, 0, ext, next, &c);
		ASSERT_EQ(0, lseek(out, 0, SEEK_SET));
		ASSERT_EQ(0, ckpt_fd_snapshot(&cur));
		ASSERT_EQ(0, ckpt_fd_snap_diff(&before, &cur, msg, sizeof(msg)))
			TH_LOG("n=%d rc %d: the fd table changed: %s", n, c.rc, msg);
		if (c.rc) {
			ASSERT_TRUE(c.hit) TH_LOG("n=%d: failed without a fault: %s", n, c.log);
			ASSERT_EQ(ENOMEM, c.err)
				TH_LOG("n=%d: %s, reason %u: %s", n, strerror(c.err), c.ck.reason, c.log);
			ASSERT_TRUE(enomem_reason(c.ck.reason))
				TH_LOG("n=%d: ENOMEM with reason %u: %s", n, c.ck.reason, c.log);
			failed++;
			continue;
		}
		ASSERT_EQ(ref.ck.bytes, c.ck.bytes) TH_LOG("n=%d (fault %s): %llu bytes, not %llu",
			n, c.hit ? "hit" : "not hit", (unsigned long long)c.ck.bytes,
			(unsigned long long)ref.ck.bytes);
		ASSERT_EQ(ref.ck.records, c.ck.records);
		if (!c.hit)
			break;
		recovered++;
	}
	TH_LOG("CKPT_IOC_CHECKPOINT of itself (%d fds): %d fault points (%d failed, %d recovered), "
	       "%.1f s", nfds, n - 1, failed, recovered, now() - t0);
	close_set(nfds);
	close(out);
}

TEST_F_TIMEOUT(fs, checkpoint_self, 300)
{
	sweep_checkpoint_self(_metadata, self, variant->extra);
	leak_check(_metadata, self);
}

/* The stopped target's state, from /proc/PID/stat. */
static char proc_state(pid_t pid)
{
	char p[64], b[512], *s;

	snprintf(p, sizeof(p), "/proc/%d/stat", pid);
	if (read_str(p, b, sizeof(b)))
		return '?';
	s = strrchr(b, ')');
	return s && s[1] && s[2] ? s[2] : '?';
}

TEST_F_TIMEOUT(fs, checkpoint_traced_child, 300)
{
	int ext[MAX_FDS], next, out, n, status, go[2], ready[2], failed = 0;
	char p[PATH_MAX], ch;
	struct call ref, c;
	pid_t child;

	snprintf(p, sizeof(p), "%s/image", self->base);
	out = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_GE(out, 0);
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(ready));
	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		char data[4] = "";

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(go[1]);
		snprintf(p, sizeof(p), "%s/data", self->base);
		if (open_at(p, O_RDONLY, FD0, 10) < 0)
			_exit(2);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		/* blocks until the parent is done: stopped and checkpointed meanwhile */
		if (read(go[0], &ch, 1) != 1)
			_exit(3);
		/* unharmed: the file and its offset are as they were */
		if (read(FD0, data, 3) != 3 || memcmp(data, "abc", 3))
			_exit(4);
		_exit(0);
	}
	ASSERT_EQ(1, read(ready[0], &ch, 1));
	ASSERT_EQ(0, ptrace(PTRACE_SEIZE, child, 0, 0));
	ASSERT_EQ(0, ptrace(PTRACE_INTERRUPT, child, 0, 0));
	ASSERT_EQ(child, waitpid(child, &status, __WALL));
	ASSERT_TRUE(WIFSTOPPED(status));
	/* everything the child has but its data file is external */
	snprintf(p, sizeof(p), "/proc/%d/fd", child);
	{
		DIR *dp = opendir(p);
		struct dirent *d;

		ASSERT_NE(NULL, dp);
		next = 0;
		while ((d = readdir(dp)))
			if (d->d_name[0] != '.' && atoi(d->d_name) != FD0 && next < MAX_FDS)
				ext[next++] = atoi(d->d_name);
		closedir(dp);
	}
	checkpoint(self->dev, self->nth, 0, out, child, ext, next, &ref);
	ASSERT_EQ(0, ref.rc) TH_LOG("%s: %s", strerror(ref.err), ref.log);

	for (n = 1;; n++) {
		ASSERT_LT(n, MAX_POINTS);
		ASSERT_EQ(0, ftruncate(out, 0));
		ASSERT_EQ(0, lseek(out, 0, SEEK_SET));
		checkpoint(self->dev, self->nth, n, out, child, ext, next, &c);
		ASSERT_EQ('t', proc_state(child)) TH_LOG("n=%d: the target is no longer stopped", n);
		if (c.rc) {
			ASSERT_TRUE(c.hit) TH_LOG("n=%d: failed without a fault: %s", n, c.log);
			ASSERT_EQ(ENOMEM, c.err)
				TH_LOG("n=%d: %s, reason %u: %s", n, strerror(c.err), c.ck.reason, c.log);
			ASSERT_TRUE(enomem_reason(c.ck.reason))
				TH_LOG("n=%d: ENOMEM with reason %u: %s", n, c.ck.reason, c.log);
			failed++;
			continue;
		}
		ASSERT_EQ(ref.ck.bytes, c.ck.bytes) TH_LOG("n=%d (fault %s)", n, c.hit ? "hit" : "not hit");
		if (!c.hit)
			break;
	}
	TH_LOG("CKPT_IOC_CHECKPOINT of a traced child: %d fault points (%d failed)", n - 1, failed);

	/* the target runs on and finds its file as it left it */
	ASSERT_EQ(0, ptrace(PTRACE_DETACH, child, 0, 0));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	close(out);
	close(go[0]);
	close(go[1]);
	close(ready[0]);
	close(ready[1]);
	leak_check(_metadata, self);
}

/* ---- CKPT_IOC_RESTART ---- */

/* Occupies the image's fds with another file, for CKPT_RESTART_REPLACE_FDS. */
static int occupy(const char *dir, int nfds)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/other", dir);
	for (int i = 0; i < nfds; i++)
		if (open_at(p, i % 2 ? O_RDONLY : O_RDWR | O_CLOEXEC, FD0 + i, i) < 0)
			return -1;
	return 0;
}

/*
 * Fills low fds so that the number of free fds below the image's highest one
 * is a power of two: the install phase then records the first fd it takes
 * back from the caller in a full vector, which must grow, and that
 * allocation is a fault point of its own (after a file was taken out).
 */
static int fill_low(int nfds, int *fillers, int *nfill)
{
	int open_below = 0, want, fds[MAX_FDS], n;

	n = ckpt_open_fds(fds, MAX_FDS);
	for (int i = 0; i < n; i++)
		open_below += fds[i] < FD0 + nfds;
	want = FD0 + nfds - open_below;
	for (n = 1; n * 2 <= want; n *= 2)
		;
	*nfill = 0;
	while (want > n) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (fd < 0 || fd >= FD0)
			return -1;
		fillers[(*nfill)++] = fd;
		want--;
	}
	return 0;
}

static void sweep_restart(struct __test_metadata *_metadata, FIXTURE_DATA(fs) *self, int extra,
			  bool replace)
{
	int ext[MAX_FDS], fillers[MAX_FDS], next, nfds, nfill = 0, img, n;
	int failed = 0, recovered = 0;
	__u64 flags = replace ? CKPT_RESTART_REPLACE_FDS : 0;
	struct ckpt_fdsnap before, restored, cur;
	struct call c;
	char p[PATH_MAX], msg[256];
	double t0 = now();

	snprintf(p, sizeof(p), "%s/image", self->base);
	img = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_GE(img, 0);
	ASSERT_GE(self->nth, 0);
	next = ckpt_open_fds(ext, MAX_FDS);
	ASSERT_GT(next, 0);
	nfds = open_set(self->base, extra);
	ASSERT_GT(nfds, 0);
	checkpoint(self->dev, self->nth, 0, img, 0, ext, next, &c);
	ASSERT_EQ(0, c.rc) TH_LOG("checkpoint: %s: %s", strerror(c.err), c.log);
	close_set(nfds);

	/* the undisturbed restart, for reference */
	if (replace) {
		ASSERT_EQ(0, occupy(self->base, nfds));
		ASSERT_EQ(0, fill_low(nfds, fillers, &nfill));
	}
	ASSERT_EQ(0, lseek(img, 0, SEEK_SET));
	restart(self->dev, self->nth, 0, img, flags, &c);
	ASSERT_EQ(0, c.rc) TH_LOG("restart: %s: %s", strerror(c.err), c.log);
	ASSERT_EQ((__u32)nfds, c.rs.nr_fds);
	ASSERT_EQ(0, lseek(img, 0, SEEK_SET));
	ASSERT_EQ(0, ckpt_fd_snapshot(&restored));
	close_set(nfds);

	if (replace)
		ASSERT_EQ(0, occupy(self->base, nfds));
	ASSERT_EQ(0, ckpt_fd_snapshot(&before));

	for (n = 1;; n++) {
		ASSERT_LT(n, MAX_POINTS);
		ASSERT_EQ(0, lseek(img, 0, SEEK_SET));
		restart(self->dev, self->nth, n, img, flags, &c);
		ASSERT_EQ(0, lseek(img, 0, SEEK_SET));
		if (getenv("CKPT_FAULT_VERBOSE"))
			TH_LOG("n=%d hit %d rc %d %s reason %u err_fd %d: %s", n, c.hit, c.rc,
			       strerror(c.err), c.rs.reason, c.rs.err_fd, c.log);
		ASSERT_EQ(0, ckpt_fd_snapshot(&cur));
		if (c.rc) {
			ASSERT_EQ(0, ckpt_fd_snap_diff(&before, &cur, msg, sizeof(msg)))
				TH_LOG("n=%d: a failed restart changed the caller's fd table: %s "
				       "(%s, reason %u, err_fd %d: %s)", n, msg, strerror(c.err),
				       c.rs.reason, c.rs.err_fd, c.log);
			ASSERT_TRUE(c.hit) TH_LOG("n=%d: failed without a fault: %s", n, c.log);
			ASSERT_EQ(ENOMEM, c.err)
				TH_LOG("n=%d: %s, reason %u, err_fd %d: %s", n, strerror(c.err),
				       c.rs.reason, c.rs.err_fd, c.log);
			ASSERT_TRUE(enomem_reason(c.rs.reason))
				TH_LOG("n=%d: ENOMEM with reason %u: %s", n, c.rs.reason, c.log);
			ASSERT_EQ(0U, c.rs.nr_fds);
			failed++;
			continue;
		}
		ASSERT_EQ(0, ckpt_fd_snap_diff(&restored, &cur, msg, sizeof(msg)))
			TH_LOG("n=%d (fault %s): restored differently: %s", n,
			       c.hit ? "hit" : "not hit", msg);
		ASSERT_EQ((__u32)nfds, c.rs.nr_fds);
		close_set(nfds);
		if (!c.hit)
			break;
		recovered++;
		if (replace)
			ASSERT_EQ(0, occupy(self->base, nfds));
		ASSERT_EQ(0, ckpt_fd_snapshot(&cur));
		ASSERT_EQ(0, ckpt_fd_snap_diff(&before, &cur, msg, sizeof(msg))) TH_LOG("%s", msg);
	}
	TH_LOG("CKPT_IOC_RESTART%s (%d fds): %d fault points (%d failed, %d recovered), %.1f s",
	       replace ? " with REPLACE_FDS" : "", nfds, n - 1, failed, recovered, now() - t0);
	for (int i = 0; i < nfill; i++)
		close(fillers[i]);
	close(img);
}

TEST_F_TIMEOUT(fs, restart, 300)
{
	sweep_restart(_metadata, self, variant->extra, false);
	leak_check(_metadata, self);
}

TEST_F_TIMEOUT(fs, restart_replace_fds, 300)
{
	sweep_restart(_metadata, self, variant->extra, true);
	leak_check(_metadata, self);
}

/* ---- the install phase: the module's own fault attribute ---- */

#define FAIL_INSTALL "/sys/kernel/debug/ckpt/fail_install/"

static int fail_install_set(const char *knob, long v)
{
	char p[128], b[32];

	snprintf(p, sizeof(p), FAIL_INSTALL "%s", knob);
	snprintf(b, sizeof(b), "%ld", v);
	return write_str(p, b);
}

static long fail_install_get(const char *knob)
{
	char p[128], b[32];

	snprintf(p, sizeof(p), FAIL_INSTALL "%s", knob);
	return read_str(p, b, sizeof(b)) ? -1 : atol(b);
}

/* Fails the @n-th install step of the next restarts (times=1), or none (@n = 0). */
static int fail_install_arm(int n)
{
	if (!n)
		return fail_install_set("probability", 0);
	return fail_install_set("verbose", 0) || fail_install_set("task-filter", 0) ||
	       fail_install_set("interval", 1) || fail_install_set("space", n) ||
	       fail_install_set("times", 1) || fail_install_set("probability", 100);
}

/*
 * A replacing restart fails at each step of its install phase in turn (the
 * module asks its fault attribute after taking each of the caller's files out
 * of the table, and once more after the last: one step per replaced fd, and
 * one), which allocation failures never reach. Each failure is ENOMEM with
 * nothing restored and the caller's fd table exactly as before, every file
 * back at its fd with its flags and position; nothing leaks (file-nr, the
 * file system unmounts). Past the last step the restart succeeds, exactly as
 * an undisturbed one.
 */
TEST_F_TIMEOUT(fs, restart_replace_install_fails, 300)
{
	int ext[MAX_FDS], next, nfds, img, n, failed = 0;
	struct ckpt_fdsnap before, restored, cur;
	struct call c;
	char p[PATH_MAX], msg[512];

	ASSERT_EQ(0, access(FAIL_INSTALL "space", W_OK))
		TH_LOG(FAIL_INSTALL ": %s (CONFIG_FAULT_INJECTION_DEBUG_FS?)", strerror(errno));
	snprintf(p, sizeof(p), "%s/image", self->base);
	img = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_GE(img, 0);
	next = ckpt_open_fds(ext, MAX_FDS);
	ASSERT_GT(next, 0);
	nfds = open_set(self->base, variant->extra);
	ASSERT_GT(nfds, 0);
	checkpoint(self->dev, self->nth, 0, img, 0, ext, next, &c);
	ASSERT_EQ(0, c.rc) TH_LOG("checkpoint: %s: %s", strerror(c.err), c.log);
	close_set(nfds);

	/* the undisturbed replacing restart, for reference */
	ASSERT_EQ(0, fail_install_arm(0));
	ASSERT_EQ(0, occupy(self->base, nfds));
	ASSERT_EQ(0, lseek(img, 0, SEEK_SET));
	restart(self->dev, self->nth, 0, img, CKPT_RESTART_REPLACE_FDS, &c);
	ASSERT_EQ(0, c.rc) TH_LOG("restart: %s: %s", strerror(c.err), c.log);
	ASSERT_EQ((__u32)nfds, c.rs.nr_fds);
	ASSERT_EQ(0, lseek(img, 0, SEEK_SET));
	ASSERT_EQ(0, ckpt_fd_snapshot(&restored));
	close_set(nfds);

	ASSERT_EQ(0, occupy(self->base, nfds));
	ASSERT_EQ(0, ckpt_fd_snapshot(&before));
	for (n = 1;; n++) {
		bool hit;

		/* steps 1..nfds + 1 fail, then the restart runs through */
		ASSERT_LE(n, nfds + 2) TH_LOG("more install steps than replaced fds and one");
		ASSERT_EQ(0, fail_install_arm(n));
		ASSERT_EQ(0, lseek(img, 0, SEEK_SET));
		restart(self->dev, self->nth, 0, img, CKPT_RESTART_REPLACE_FDS, &c);
		hit = fail_install_get("times") == 0;
		ASSERT_EQ(0, fail_install_arm(0));
		ASSERT_EQ(0, lseek(img, 0, SEEK_SET));
		ASSERT_EQ(0, ckpt_fd_snapshot(&cur));
		if (c.rc) {
			ASSERT_EQ(0, ckpt_fd_snap_diff(&before, &cur, msg, sizeof(msg)))
				TH_LOG("step %d: a failed install changed the caller's fd table: %s "
				       "(%s, err_fd %d: %s)", n, msg, strerror(c.err), c.rs.err_fd, c.log);
			ASSERT_TRUE(hit) TH_LOG("step %d: failed without a fault: %s", n, c.log);
			ASSERT_EQ(ENOMEM, c.err)
				TH_LOG("step %d: %s, reason %u: %s", n, strerror(c.err), c.rs.reason,
				       c.log);
			ASSERT_EQ((__u32)CKPT_REASON_NONE, c.rs.reason) TH_LOG("%s", c.log);
			ASSERT_EQ(0U, c.rs.nr_fds);
			if (n <= nfds)	/* the step after taking FD0 + n - 1 out */
				ASSERT_EQ(FD0 + n - 1, c.rs.err_fd) TH_LOG("step %d: %s", n, c.log);
			failed++;
			continue;
		}
		ASSERT_FALSE(hit) TH_LOG("step %d: a fault was injected and the restart succeeded", n);
		ASSERT_EQ(0, ckpt_fd_snap_diff(&restored, &cur, msg, sizeof(msg)))
			TH_LOG("restored differently: %s", msg);
		ASSERT_EQ((__u32)nfds, c.rs.nr_fds);
		close_set(nfds);
		break;
	}
	ASSERT_EQ(nfds + 1, failed) TH_LOG("%d replaced fds, %d install steps failed", nfds, failed);
	TH_LOG("CKPT_IOC_RESTART with REPLACE_FDS (%d fds): each of %d install steps failed in turn",
	       nfds, failed);
	close(img);
	leak_check(_metadata, self);
}

TEST_HARNESS_MAIN
