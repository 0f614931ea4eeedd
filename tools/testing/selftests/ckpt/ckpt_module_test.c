// SPDX-License-Identifier: GPL-2.0
/*
 * The module and its device node: ckpt.ko cannot go away while /dev/ckpt is
 * open or an ioctl runs (the file operations are owned by the module, so an
 * open file pins it), unloading then fails cleanly and the device keeps
 * working; loading and unloading while other processes open the device
 * crashes nothing; the `mode` parameter sets the node's mode (default 0600),
 * and with 0666 an unprivileged user opens the device itself, checkpoints and
 * restarts its own process, and is refused for other users' processes and
 * files (Documentation/ioctl-abi.rst, "The device node").
 *
 * Needs root and CKPT_KO, the path of ckpt.ko (tools/testing/vm-run sets
 * it). Every test leaves the module loaded with its default parameters. Leaks
 * are kmemleak's to find (vm-run scans after the run).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/ckpt.h>

#include "kselftest_harness.h"

#define NOBODY		65534
#define OTHER_UID	65533
#define FD0		300

/* ---- loading and unloading ---- */

static int load(const char *params)
{
	const char *ko = getenv("CKPT_KO");
	int fd, r;

	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = syscall(SYS_finit_module, fd, params, 0);
	close(fd);
	return r;
}

/* delete_module(2) without waiting: fails with EWOULDBLOCK while the module is in use. */
static int unload(void)
{
	return syscall(SYS_delete_module, "ckpt", O_NONBLOCK);
}

static bool loaded(void)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/modules", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, "ckpt ", 5);
	fclose(f);
	return found;
}

/* The module's reference count, from /proc/modules. */
static int refcount(void)
{
	char line[256];
	int n = -1;
	FILE *f = fopen("/proc/modules", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "ckpt ", 5) && sscanf(line, "ckpt %*u %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* Loaded again, with @params: unload first (retrying while someone lets go). */
static int reload(const char *params)
{
	for (int i = 0; loaded() && i < 100; i++) {
		if (unload() == 0)
			break;
		usleep(20000);
	}
	if (loaded())
		return -1;
	return load(params);
}

static int version(int dev)
{
	struct ckpt_version v = { 0 };

	return ioctl(dev, CKPT_IOC_VERSION, &v) == 0 && v.abi_version == CKPT_ABI_VERSION ? 0 : -1;
}

FIXTURE(mod) {
	int unused;
};

FIXTURE_SETUP(mod)
{
	if (getuid() != 0)
		SKIP(return, "needs root");
	if (!getenv("CKPT_KO") || access(getenv("CKPT_KO"), R_OK))
		SKIP(return, "CKPT_KO is not the path of ckpt.ko");
	if (!loaded())
		ASSERT_EQ(0, load(""));
}

FIXTURE_TEARDOWN(mod)
{
	/* the tests that follow need the module as the runner loaded it */
	if (getuid() == 0 && getenv("CKPT_KO"))
		reload("");
}

TEST_F(mod, open_device_pins_the_module)
{
	int dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);

	ASSERT_GE(dev, 0);
	ASSERT_EQ(1, refcount());
	ASSERT_EQ(-1, unload());
	ASSERT_EQ(EWOULDBLOCK, errno);
	/* a failed unload changes nothing: the device still answers */
	ASSERT_TRUE(loaded());
	ASSERT_EQ(0, version(dev));
	ASSERT_EQ(0, close(dev));
	ASSERT_EQ(0, refcount());
	ASSERT_EQ(0, unload()) TH_LOG("delete_module: %s", strerror(errno));
	ASSERT_FALSE(loaded());
	ASSERT_NE(0, access("/dev/ckpt", F_OK));
	ASSERT_EQ(0, load(""));
}

/* ---- an ioctl in flight ---- */

struct inflight {
	int dev, pipe_r;
	int rc, err;
};

static void *blocked_restart(void *arg)
{
	struct inflight *f = arg;
	struct ckpt_restart r = { .fd = f->pipe_r };

	f->rc = ioctl(f->dev, CKPT_IOC_RESTART, &r);
	f->err = errno;
	return NULL;
}

/* Whether thread @tid of this process sleeps in ioctl(2) (from /proc/.../syscall). */
static bool in_ioctl(pid_t tid)
{
	char p[64], b[64] = "";
	FILE *f;

	snprintf(p, sizeof(p), "/proc/self/task/%d/syscall", tid);
	f = fopen(p, "re");
	if (!f)
		return false;
	if (!fgets(b, sizeof(b), f))
		b[0] = '\0';
	fclose(f);
	return atoi(b) == SYS_ioctl;
}

static pid_t thread_tid;

static void *blocked_restart_tid(void *arg)
{
	__atomic_store_n(&thread_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	return blocked_restart(arg);
}

TEST_F(mod, ioctl_in_flight_pins_the_module)
{
	struct inflight f = { 0 };
	int p[2], i;
	pthread_t t;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	f.dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	f.pipe_r = p[0];
	ASSERT_GE(f.dev, 0);
	thread_tid = 0;
	ASSERT_EQ(0, pthread_create(&t, NULL, blocked_restart_tid, &f));
	for (i = 0; i < 500 && !(__atomic_load_n(&thread_tid, __ATOMIC_SEQ_CST) &&
				 in_ioctl(thread_tid)); i++)
		usleep(10000);
	ASSERT_LT(i, 500) TH_LOG("the restart did not block in its read");
	/*
	 * Close the fd under the running ioctl: the file (and with it the
	 * module) is then held only by the ioctl itself.
	 */
	ASSERT_EQ(0, close(f.dev));
	ASSERT_EQ(1, refcount());
	ASSERT_EQ(-1, unload());
	ASSERT_EQ(EWOULDBLOCK, errno);
	/* end the restart: a truncated image */
	ASSERT_EQ(4, write(p[1], "CKPT", 4));
	close(p[1]);
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(-1, f.rc);
	ASSERT_EQ(EBADMSG, f.err);
	close(p[0]);
	ASSERT_EQ(0, refcount());
	ASSERT_EQ(0, unload()) TH_LOG("delete_module: %s", strerror(errno));
	ASSERT_EQ(0, load(""));
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Unload and load in a loop while two processes open the device and call
 * CKPT_IOC_VERSION: an open either fails (no node, or the module is going)
 * or gives a device that works until it is closed.
 */
TEST_F_TIMEOUT(mod, load_unload_while_opening, 120)
{
	int rounds = 0, unloads = 0, status, i;
	pid_t kids[2];
	double end;

	for (i = 0; i < 2; i++) {
		kids[i] = fork();
		ASSERT_GE(kids[i], 0);
		if (kids[i] == 0) {
			double stop = now() + 4;
			int opened = 0;

			while (now() < stop) {
				int dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);

				if (dev < 0) {
					if (errno != ENOENT && errno != ENODEV && errno != ENXIO)
						_exit(10 + errno % 100);
					continue;
				}
				opened++;
				if (version(dev))
					_exit(2);
				close(dev);
				/* leave the module unused now and then */
				usleep(2000);
			}
			_exit(opened ? 0 : 3);
		}
	}
	end = now() + 3;
	while (now() < end) {
		if (unload() == 0) {
			unloads++;
			ASSERT_EQ(0, load(""));
		} else {
			ASSERT_EQ(EWOULDBLOCK, errno);
		}
		rounds++;
	}
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(kids[i], waitpid(kids[i], &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("opener %d: exit %d", i, WEXITSTATUS(status));
	}
	TH_LOG("%d unload attempts, %d unloads", rounds, unloads);
	ASSERT_GT(unloads, 0);
}

/* ---- the node's mode ---- */

static int node_mode(void)
{
	struct stat st;

	if (stat("/dev/ckpt", &st))
		return -1;
	return st.st_mode & 07777;
}

TEST_F(mod, mode_parameter)
{
	ASSERT_EQ(0, reload(""));
	ASSERT_EQ(0600, node_mode());
	ASSERT_EQ(0, reload("mode=0666"));
	ASSERT_EQ(0666, node_mode());
	ASSERT_EQ(0, reload("mode=0640"));
	ASSERT_EQ(0640, node_mode());
	/* not a file mode: the module refuses to load */
	ASSERT_EQ(-1, reload("mode=01777"));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_FALSE(loaded());
	ASSERT_EQ(-1, reload("mode=rw"));
	ASSERT_FALSE(loaded());
	ASSERT_EQ(0, reload(""));
	ASSERT_EQ(0600, node_mode());
}

/* ---- an unprivileged user ---- */

static int become(uid_t uid)
{
	gid_t gid = uid;

	if (setgroups(0, NULL) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid))
		return -1;
	return 0;
}

/* A child that runs as @uid and sleeps. */
static pid_t sleeper(uid_t uid)
{
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (become(uid))
			_exit(1);
		for (;;)
			pause();
	}
	return pid;
}

static int checkpoint(int dev, int out, pid_t pid, int *ext, int next, struct ckpt_checkpoint *a)
{
	memset(a, 0, sizeof(*a));
	a->fd = out;
	a->pid = pid;
	a->external_fds = (__u64)(unsigned long)ext;
	a->nr_external_fds = next;
	return ioctl(dev, CKPT_IOC_CHECKPOINT, a);
}

/* Every open fd but @skip, for the external list. */
static int open_fds(int *fds, int max, int skip)
{
	int n = 0;

	for (int fd = 0; fd < FD0 + 10 && n < max; fd++)
		if (fd != skip && fcntl(fd, F_GETFD) >= 0)
			fds[n++] = fd;
	return n;
}

/*
 * What the unprivileged child checks; its exit status names the first check
 * that failed (0: all passed).
 */
static int unprivileged(const char *dir, pid_t root_pid, pid_t other_pid, int root_img)
{
	struct ckpt_checkpoint a;
	struct ckpt_restart r;
	char p[PATH_MAX], buf[8] = "";
	int dev, out, fd, ext[64], next;

	if (become(NOBODY))
		return 1;
	dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return 2;
	/* its own process: checkpoint and restart */
	snprintf(p, sizeof(p), "%s/mine", dir);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "0123456789", 10) != 10 || dup2(fd, FD0) != FD0 || close(fd))
		return 3;
	if (lseek(FD0, 4, SEEK_SET) != 4)
		return 3;
	snprintf(p, sizeof(p), "%s/image", dir);
	out = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		return 4;
	next = open_fds(ext, 64, FD0);
	if (checkpoint(dev, out, 0, ext, next, &a))
		return 5;
	close(FD0);
	memset(&r, 0, sizeof(r));
	r.fd = out;
	if (lseek(out, 0, SEEK_SET) || ioctl(dev, CKPT_IOC_RESTART, &r) || r.nr_fds != 1)
		return 6;
	if (read(FD0, buf, 2) != 2 || memcmp(buf, "45", 2))
		return 7;
	close(FD0);
	/* root's process: not traceable, so not checkpointable */
	if (checkpoint(dev, out, root_pid, ext, next, &a) != -1 || errno != EPERM ||
	    a.reason != CKPT_REASON_TARGET)
		return 8;
	if (ptrace(PTRACE_SEIZE, root_pid, 0, 0) != -1)
		return 9;
	/* another user's process: the same */
	if (checkpoint(dev, out, other_pid, ext, next, &a) != -1 || errno != EPERM ||
	    a.reason != CKPT_REASON_TARGET)
		return 10;
	if (ptrace(PTRACE_SEIZE, other_pid, 0, 0) != -1)
		return 11;
	/* root's image names a file only root may open: refused, nothing installed */
	memset(&r, 0, sizeof(r));
	r.fd = root_img;
	if (ioctl(dev, CKPT_IOC_RESTART, &r) != -1 || errno != EACCES ||
	    r.reason != CKPT_REASON_FILE_ACCESS || r.err_fd != FD0 || fcntl(FD0, F_GETFD) != -1)
		return 12;
	return 0;
}

TEST_F_TIMEOUT(mod, unprivileged_user, 120)
{
	char dir[] = "/tmp/ckpt-mod-XXXXXX", p[PATH_MAX];
	int dev, img, fd, ext[64], next, status;
	struct ckpt_checkpoint a;
	pid_t child, root_sleeper, other;

	ASSERT_NE(NULL, mkdtemp(dir));
	ASSERT_EQ(0, mount("tmpfs", dir, "tmpfs", 0, "mode=0755"));
	ASSERT_EQ(0, chmod(dir, 0777));

	/* default mode: the user may not open the device */
	ASSERT_EQ(0, reload(""));
	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0)
		_exit(become(NOBODY) ? 1 : open("/dev/ckpt", O_RDWR) >= 0 ? 2 :
		      errno == EACCES ? 0 : 3);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("opened a 0600 node as uid %d", NOBODY);

	ASSERT_EQ(0, reload("mode=0666"));
	/* an image (root's) of a file only root may open, at FD0 */
	snprintf(p, sizeof(p), "%s/secret", dir);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(FD0, dup2(fd, FD0));
	close(fd);
	snprintf(p, sizeof(p), "%s/root-image", dir);
	img = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ASSERT_GE(img, 0);
	dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_GE(dev, 0);
	next = open_fds(ext, 64, FD0);
	ASSERT_EQ(0, checkpoint(dev, img, 0, ext, next, &a)) TH_LOG("%s", strerror(errno));
	close(FD0);
	ASSERT_EQ(0, lseek(img, 0, SEEK_SET));
	/* dev stays open: it is one of the image's external fds, which the child inherits */

	root_sleeper = sleeper(0);
	other = sleeper(OTHER_UID);
	ASSERT_GT(root_sleeper, 0);
	ASSERT_GT(other, 0);
	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0)
		_exit(unprivileged(dir, root_sleeper, other, img));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("check %d failed (see unprivileged())",
						 WEXITSTATUS(status));
	kill(root_sleeper, SIGKILL);
	kill(other, SIGKILL);
	waitpid(root_sleeper, NULL, 0);
	waitpid(other, NULL, 0);
	close(img);
	close(dev);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

TEST_HARNESS_MAIN
