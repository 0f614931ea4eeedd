/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers the ckpt kselftests share: little-endian fields and CRC-32C of the
 * image format (Documentation/image-format.rst, written from the document and
 * not from the codec, so the two check each other), CKPT_IOC_CHECKPOINT and
 * CKPT_IOC_RESTART calls with their results, fd table snapshots for "the
 * caller's fd table is exactly as before", file systems a test mounts and
 * must be able to unmount, and children: copying a program, spawning it
 * (traced or not), and a fixture part for "a copy of this program on a
 * private tmpfs, stopped under ptrace and checkpointed"; /proc/PID/mem and
 * /proc/PID/maps as oracles; the whole-process tests' steps: a child that
 * reports where its state is, dumped as a process, and "ckpt restore" that
 * must become it or refuse.
 *
 * Header only (static functions): each test program is one translation unit.
 * Include it after kselftest_harness.h.
 */
#ifndef CKPT_SELFTEST_H
#define CKPT_SELFTEST_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/ckpt.h>

/* ---- the image format ---- */

#define CKPT_HDR_LEN		304	/* image header */
#define CKPT_RHDR_LEN		16	/* record header */
#define CKPT_TERM_LEN		36	/* terminator record */
#define CKPT_MAGIC		"LinuxC/R"

static inline uint16_t ckpt_get16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static inline uint32_t ckpt_get32(const uint8_t *p)
{
	return ckpt_get16(p) | (uint32_t)ckpt_get16(p + 2) << 16;
}

static inline uint64_t ckpt_get64(const uint8_t *p)
{
	return ckpt_get32(p) | (uint64_t)ckpt_get32(p + 4) << 32;
}

static inline void ckpt_put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static inline void ckpt_put32(uint8_t *p, uint32_t v)
{
	ckpt_put16(p, v);
	ckpt_put16(p + 2, v >> 16);
}

static inline void ckpt_put64(uint8_t *p, uint64_t v)
{
	ckpt_put32(p, v);
	ckpt_put32(p + 4, v >> 32);
}

/* CRC-32C: reflected polynomial 0x82F63B78, initial value and final xor ~0. */
static inline uint32_t ckpt_crc32c(const uint8_t *p, size_t n)
{
	static uint32_t table[256];
	uint32_t c;
	int i, k;

	if (!table[1]) {
		for (i = 0; i < 256; i++) {
			c = i;
			for (k = 0; k < 8; k++)
				c = c & 1 ? (c >> 1) ^ 0x82F63B78 : c >> 1;
			table[i] = c;
		}
	}
	c = ~0U;
	while (n--)
		c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

/*
 * Checks that @b (@len bytes) is one whole image by the document alone: the
 * magic, a terminator ending it whose count and length agree with the record
 * headers walked from the start, and its CRC-32C. Returns NULL or what is wrong.
 */
static inline const char *ckpt_image_whole(const uint8_t *b, size_t len)
{
	size_t o = CKPT_HDR_LEN;
	uint64_t n = 0;
	uint32_t rlen;

	if (len < CKPT_HDR_LEN + CKPT_TERM_LEN || memcmp(b, CKPT_MAGIC, 8))
		return "no image header (magic LinuxC/R)";
	for (;;) {
		if (o + CKPT_RHDR_LEN > len)
			return "a record header runs past the end";
		rlen = ckpt_get32(b + o + 4);
		if (rlen < CKPT_RHDR_LEN || o + rlen > len)
			return "a record runs past the end";
		if (ckpt_get16(b + o) == 0x0001)
			break;
		o += rlen;
		n++;
	}
	if (rlen != CKPT_TERM_LEN || o + rlen != len)
		return "the terminator does not end the bytes";
	if (ckpt_get64(b + o + 16) != n || ckpt_get64(b + o + 24) != o)
		return "the terminator's record count or length disagrees";
	if (ckpt_get32(b + len - 4) != ckpt_crc32c(b, len - 4))
		return "the checksum does not match";
	return NULL;
}

/* ---- the ioctls ---- */

struct ckpt_ck {
	int rc, err;
	struct ckpt_checkpoint a;
	char log[512];
};

/* CKPT_IOC_CHECKPOINT of @pid (0: the caller) into @out, @ext declared external. */
static inline int ckpt_checkpoint(int dev, int out, pid_t pid, const int *ext, int n,
				  struct ckpt_ck *c)
{
	memset(c, 0, sizeof(*c));
	c->a.fd = out;
	c->a.pid = pid;
	c->a.external_fds = (__u64)(unsigned long)ext;
	c->a.nr_external_fds = n;
	c->a.log_buf = (__u64)(unsigned long)c->log;
	c->a.log_size = sizeof(c->log);
	errno = 0;
	c->rc = ioctl(dev, CKPT_IOC_CHECKPOINT, &c->a);
	c->err = c->rc ? errno : 0;
	return c->rc;
}

struct ckpt_rs {
	int rc, err;
	struct ckpt_restart a;
	char log[1024];
	char desc[1400];
};

/* CKPT_IOC_RESTART from @in with @flags. */
static inline int ckpt_restart(int dev, int in, __u64 flags, struct ckpt_rs *r)
{
	memset(r, 0, sizeof(*r));
	r->a.fd = in;
	r->a.flags = flags;
	r->a.log_buf = (__u64)(unsigned long)r->log;
	r->a.log_size = sizeof(r->log);
	errno = 0;
	r->rc = ioctl(dev, CKPT_IOC_RESTART, &r->a);
	r->err = r->rc ? errno : 0;
	return r->rc;
}

/* Everything a restart reported, for TH_LOG. */
static inline const char *ckpt_rs_desc(struct ckpt_rs *r)
{
	snprintf(r->desc, sizeof(r->desc),
		 "restart: rc %d errno %d (%s) reason %u err_fd %d err_record %llu nr_fds %u nr_external %u bytes %llu log \"%s\"",
		 r->rc, r->err, strerror(r->err), r->a.reason, r->a.err_fd,
		 (unsigned long long)r->a.err_record, r->a.nr_fds, r->a.nr_external,
		 (unsigned long long)r->a.bytes, r->log);
	return r->desc;
}

/* ---- fd table snapshots ---- */

struct ckpt_fdent {
	int fd;
	dev_t dev, rdev;
	ino_t ino;
	long long pos;
	int fl, fdfl;
	char link[192];
};

#define CKPT_SNAP_MAX 256
struct ckpt_fdsnap {
	int n;
	struct ckpt_fdent e[CKPT_SNAP_MAX];
};

/* What fd @fd is: identity (dev, ino, rdev, the /proc link), position, flags. */
static inline void ckpt_fd_fill(int fd, struct ckpt_fdent *e)
{
	char p[64];
	struct stat st;
	ssize_t l;

	memset(e, 0, sizeof(*e));
	e->fd = fd;
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	l = readlink(p, e->link, sizeof(e->link) - 1);
	e->link[l > 0 ? l : 0] = '\0';
	if (!fstat(fd, &st)) {
		e->dev = st.st_dev;
		e->ino = st.st_ino;
		e->rdev = st.st_rdev;
	}
	e->pos = lseek(fd, 0, SEEK_CUR);
	if (e->pos < 0)
		e->pos = -errno;
	e->fl = fcntl(fd, F_GETFL);
	e->fdfl = fcntl(fd, F_GETFD);
}

/*
 * The fds open now (from /proc/self/fd, in its order) into @fds: their
 * number, or -1 if /proc/self/fd cannot be read or more than @max are open.
 */
static inline int ckpt_open_fds(int *fds, int max)
{
	DIR *dp = opendir("/proc/self/fd");
	struct dirent *d;
	int n = 0, fd;

	if (!dp)
		return -1;
	while ((d = readdir(dp))) {
		if (d->d_name[0] == '.')
			continue;
		fd = atoi(d->d_name);
		if (fd == dirfd(dp))
			continue;
		if (n == max) {
			closedir(dp);
			return -1;
		}
		fds[n++] = fd;
	}
	closedir(dp);
	return n;
}

static inline int ckpt_fdent_cmp(const void *a, const void *b)
{
	return ((const struct ckpt_fdent *)a)->fd - ((const struct ckpt_fdent *)b)->fd;
}

/* Every open fd of the caller (from /proc/self/fd, so none is missed), sorted. */
static inline int ckpt_fd_snapshot(struct ckpt_fdsnap *s)
{
	int fds[CKPT_SNAP_MAX];
	int n = ckpt_open_fds(fds, CKPT_SNAP_MAX), i;

	s->n = 0;
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++)
		ckpt_fd_fill(fds[i], &s->e[i]);
	s->n = n;
	qsort(s->e, s->n, sizeof(s->e[0]), ckpt_fdent_cmp);
	return 0;
}

/*
 * Number of differences between two snapshots, the first few described in
 * @msg. Positions are compared unless @ignore_pos_fd is the fd (-1: all).
 */
static inline int ckpt_fd_snap_diff_but(const struct ckpt_fdsnap *a, const struct ckpt_fdsnap *b,
					int ignore_pos_fd, char *msg, size_t len)
{
	int i = 0, j = 0, diffs = 0;
	size_t off = 0;

#define CKPT_SAY(...) do { \
		if (off < len) \
			off += snprintf(msg + off, len - off, __VA_ARGS__); \
		diffs++; \
	} while (0)
	msg[0] = '\0';
	while (i < a->n || j < b->n) {
		const struct ckpt_fdent *x = i < a->n ? &a->e[i] : NULL;
		const struct ckpt_fdent *y = j < b->n ? &b->e[j] : NULL;

		if (x && (!y || x->fd < y->fd)) {
			CKPT_SAY("fd %d (%s) closed; ", x->fd, x->link);
			i++;
		} else if (y && (!x || y->fd < x->fd)) {
			CKPT_SAY("fd %d (%s) added; ", y->fd, y->link);
			j++;
		} else {
			if (strcmp(x->link, y->link) || x->dev != y->dev || x->ino != y->ino ||
			    x->rdev != y->rdev)
				CKPT_SAY("fd %d: %s -> %s; ", x->fd, x->link, y->link);
			if (x->pos != y->pos && x->fd != ignore_pos_fd)
				CKPT_SAY("fd %d: pos %lld -> %lld; ", x->fd, x->pos, y->pos);
			if (x->fl != y->fl || x->fdfl != y->fdfl)
				CKPT_SAY("fd %d: flags %#o/%d -> %#o/%d; ", x->fd, x->fl, x->fdfl,
					 y->fl, y->fdfl);
			i++;
			j++;
		}
	}
#undef CKPT_SAY
	return diffs;
}

static inline int ckpt_fd_snap_diff(const struct ckpt_fdsnap *a, const struct ckpt_fdsnap *b,
				    char *msg, size_t len)
{
	return ckpt_fd_snap_diff_but(a, b, -1, msg, len);
}

/* ---- file systems ---- */

/*
 * Mounts a fresh @fs at @base (created if missing): tmpfs of @mib MiB, or a
 * sparse @mib MiB image file @base.img made by mkfs.@fs (ext2, ext3, ext4: the
 * small-fs defaults, 1 KiB blocks) and mounted with "-o @opts" (which must
 * include "loop"). Returns 0, or -1 with what failed in @err.
 */
static inline int ckpt_mount_fs(const char *fs, const char *base, int mib, const char *opts,
				char *err, size_t errlen)
{
	char img[PATH_MAX], cmd[3 * PATH_MAX], o[64];
	int fd;

	if (mkdir(base, 0755) && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", base, strerror(errno));
		return -1;
	}
	if (!strcmp(fs, "tmpfs")) {
		snprintf(o, sizeof(o), "size=%dm,mode=0755", mib);
		if (mount("tmpfs", base, "tmpfs", 0, o)) {
			snprintf(err, errlen, "mount tmpfs: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	snprintf(img, sizeof(img), "%s.img", base);
	fd = open(img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)mib << 20)) {
		snprintf(err, errlen, "image %s: %s", img, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "PATH=/usr/sbin:/sbin:/usr/bin:/bin:$PATH; mkfs.%s -q -F %s >/dev/null 2>&1 && "
		 "mount -t %s -o %s %s %s", fs, img, fs, opts, img, base);
	if (system(cmd)) {
		snprintf(err, errlen, "mkfs.%s or loop mount failed: %s", fs, cmd);
		return -1;
	}
	return 0;
}

/*
 * Unmounts @base, not lazily (a leaked file reference keeps it busy, and that
 * is a failure), then detaches it anyway, removes its image file (a loop
 * device set up by mount -o loop is cleared on umount) and the directory.
 * Returns the first umount's result, with its errno.
 */
static inline int ckpt_unmount_fs(const char *base)
{
	char img[PATH_MAX];
	int r = umount2(base, 0);
	int e = errno;

	if (r)
		umount2(base, MNT_DETACH);
	snprintf(img, sizeof(img), "%s.img", base);
	unlink(img);
	rmdir(base);
	errno = e;
	return r;
}

static inline bool ckpt_is_mountpoint(const char *path)
{
	char line[1024], mnt[PATH_MAX];
	bool found = false;
	FILE *f = fopen("/proc/self/mounts", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*s %4095s", mnt) == 1 && !strcmp(mnt, path);
	fclose(f);
	return found;
}

/*
 * A file system per variant, shared by the tests of a program: each test runs
 * in a child of the harness and a mount outlives it (mounts belong to the
 * namespace), so the first test of a variant mounts "@prefix-@fs" (with
 * ckpt_mount_fs()), later ones find it mounted, and the harness process
 * unmounts them all when it exits. Which test comes first does not matter.
 */
static inline void ckpt_fs_base(const char *prefix, const char *fs, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%s", prefix, fs);
}

/* Mounts @fs at its base (into @base) unless an earlier test did; 0 or a message in @err. */
static inline int ckpt_ensure_fs(const char *prefix, const char *fs, int mib, const char *opts,
				 char *base, size_t len, char *err, size_t errlen)
{
	ckpt_fs_base(prefix, fs, base, len);
	if (ckpt_is_mountpoint(base))
		return 0;
	return ckpt_mount_fs(fs, base, mib, opts, err, errlen);
}

/*
 * Defines the constructor and destructor that unmount, at the harness
 * process's exit, every file system of @fss (an array) ckpt_ensure_fs() may
 * have mounted under @prefix. Once per program.
 */
#define CKPT_UNMOUNT_AT_EXIT(prefix, fss)						\
static pid_t ckpt_main_pid;								\
static void __attribute__((constructor)) ckpt_note_main_pid(void)			\
{											\
	ckpt_main_pid = getpid();							\
}											\
static void __attribute__((destructor)) ckpt_unmount_all(void)				\
{											\
	char base[256];									\
											\
	if (getpid() != ckpt_main_pid)							\
		return;									\
	for (size_t i = 0; i < sizeof(fss) / sizeof((fss)[0]); i++) {			\
		ckpt_fs_base(prefix, (fss)[i], base, sizeof(base));			\
		ckpt_unmount_fs(base);	/* also what a failed mount left */		\
	}										\
}

/* ---- programs and children ---- */

/* The directory of this test program (where its helper programs are). */
static inline void ckpt_exe_dir(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	char *slash;

	buf[n > 0 ? n : 0] = 0;
	slash = strrchr(buf, '/');
	if (slash)
		*slash = 0;
}

/* Copies @from to @to (created with @mode, truncated). 0 or -1. */
static inline int ckpt_copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[1 << 16];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	int ok = in >= 0 && out >= 0;
	ssize_t n = 0;

	while (ok && (n = read(in, buf, sizeof(buf))) > 0)
		ok = write(out, buf, n) == n;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return ok && n == 0 ? 0 : -1;
}

/*
 * In a forked child: fds 0, 1 and 2 on @in, @out and @err (-1: /dev/null), 3
 * on @fd3 if >= 0, nothing else (the child's fd table is part of what a test
 * checkpoints), then execs @argv, under PTRACE_TRACEME if @traced.
 */
static inline void __attribute__((noreturn))
ckpt_exec_child(char *const argv[], int in, int out, int err, int fd3, bool traced)
{
	int null = open("/dev/null", O_RDWR);

	dup2(in >= 0 ? in : null, 0);
	dup2(out >= 0 ? out : null, 1);
	dup2(err >= 0 ? err : null, 2);
	if (fd3 >= 0)
		dup2(fd3, 3);
	for (int fd = fd3 >= 0 ? 4 : 3; fd < 1024; fd++)
		close(fd);
	if (traced)
		ptrace(PTRACE_TRACEME, 0, 0, 0);
	execv(argv[0], argv);
	_exit(127);
}

/* Forks and execs @argv with fds 0, 1 and 2 on @in, @out and @err (-1: /dev/null): its pid. */
static inline pid_t ckpt_spawn(char *const argv[], int in, int out, int err)
{
	pid_t pid = fork();

	if (pid == 0)
		ckpt_exec_child(argv, in, out, err, -1, false);
	return pid;
}

/*
 * Forks a child with fds 0 and 1 on /dev/null, 2 on @err (or /dev/null), 3
 * on @fd3 if >= 0, nothing else, that execs @argv under PTRACE_TRACEME.
 * Returns its pid, stopped at the exec, or -1.
 */
static inline pid_t ckpt_spawn_traced(char *const argv[], int fd3, int err)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		ckpt_exec_child(argv, -1, -1, err, fd3, true);
	if (pid < 0 || waitpid(pid, &status, __WALL) != pid || !WIFSTOPPED(status) ||
	    WSTOPSIG(status) != SIGTRAP) {
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, __WALL);
		}
		return -1;
	}
	return pid;
}

/*
 * Continues traced @pid until it stops with SIGSTOP (signal-delivery stop,
 * suppressed), passing on other signals. Returns 0, or the wait status if it
 * exited or was killed (-1 if ptrace or waitpid failed).
 */
static inline int ckpt_run_to_stop(pid_t pid)
{
	int status, sig = 0;

	for (;;) {
		if (ptrace(PTRACE_CONT, pid, 0, sig))
			return -1;
		if (waitpid(pid, &status, __WALL) != pid)
			return -1;
		if (!WIFSTOPPED(status))
			return status ? status : -1;
		if (WSTOPSIG(status) == SIGSTOP)
			return 0;
		sig = WSTOPSIG(status) == SIGTRAP ? 0 : WSTOPSIG(status);
	}
}

/*
 * For a child that is this test program: the harness's constructors map its
 * shared result pages (shared anonymous memory, "/dev/zero (deleted)") in
 * every process running the program, and checkpoint refuses shared
 * anonymous memory, so the child drops them first.
 */
static inline void ckpt_unmap_harness_pages(void)
{
	unsigned long start, end;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "/dev/zero (deleted)") &&
		    sscanf(line, "%lx-%lx", &start, &end) == 2)
			munmap((void *)start, end - start);
	if (f)
		fclose(f);
}

/*
 * Fixture part: this program copied onto a private tmpfs (@dir/prog, so that
 * the child's only mapped file is on a file system checkpoint can save), run
 * as "prog --child FD SCENARIO DIR", stopped under ptrace, and checkpointed
 * into @dir/image, whose bytes are then in @buf.
 */
struct ckpt_child {
	int dev;
	char dir[64], prog[128], image[128];
	pid_t pid;
	struct ckpt_checkpoint args;
	int rc, err;
	char log[512];
	uint8_t *buf;
	size_t len;
};

/* FIXTURE_SETUP: /dev/ckpt, a tmpfs at a fresh /tmp/@name-XXXXXX, the copy. */
static inline void ckpt_child_setup(struct __test_metadata *_metadata, struct ckpt_child *c,
				    const char *name)
{
	c->pid = -1;
	c->dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_GE(c->dev, 0);
	snprintf(c->dir, sizeof(c->dir), "/tmp/%s-XXXXXX", name);
	ASSERT_NE(NULL, mkdtemp(c->dir));
	ASSERT_EQ(0, mount("tmpfs", c->dir, "tmpfs", 0, "size=64m"));
	snprintf(c->prog, sizeof(c->prog), "%s/prog", c->dir);
	snprintf(c->image, sizeof(c->image), "%s/image", c->dir);
	ASSERT_EQ(0, ckpt_copy_file("/proc/self/exe", c->prog, 0755));
}

/* FIXTURE_TEARDOWN: kills the child, unmounts the tmpfs. */
static inline void ckpt_child_teardown(struct ckpt_child *c)
{
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, __WALL);
	}
	free(c->buf);
	c->buf = NULL;
	umount2(c->dir, MNT_DETACH);
	rmdir(c->dir);
	close(c->dev);
}

/*
 * Waits up to 10 s until @pid sleeps ('S' in /proc/PID/stat): 0, or -1 if it
 * did not (or is gone).
 */
static inline int ckpt_wait_asleep(pid_t pid)
{
	char path[64], state = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	for (int i = 0; i < 2000; i++) {
		f = fopen(path, "re");
		if (!f)
			return -1;
		if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
			state = 0;
		fclose(f);
		if (state == 'S')
			return 0;
		usleep(5000);
	}
	return -1;
}

/*
 * Starts the child in @scenario; it writes @size bytes of @info to fd FD,
 * closes it (then the pipe is not in its table) and waits in pause(2) or
 * sigsuspend(2); once it sleeps there (not before: a sigsuspend mask is what
 * some tests look for), it is stopped with PTRACE_SEIZE + PTRACE_INTERRUPT.
 */
static inline void ckpt_child_start(struct __test_metadata *_metadata, struct ckpt_child *c,
				    const char *scenario, void *info, size_t size)
{
	int pipefd[2], status;
	char fdarg[16];
	pid_t pid;

	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		for (int fd = 3; fd < 1024; fd++)
			if (fd != pipefd[1])
				close(fd);
		snprintf(fdarg, sizeof(fdarg), "%d", pipefd[1]);
		execl(c->prog, "prog", "--child", fdarg, scenario, c->dir, (char *)NULL);
		_exit(127);
	}
	c->pid = pid;
	close(pipefd[1]);
	ASSERT_EQ((ssize_t)size, read(pipefd[0], info, size))
		TH_LOG("the child did not start (scenario %s)", scenario);
	ASSERT_EQ(0, read(pipefd[0], fdarg, 1));
	close(pipefd[0]);
	ASSERT_EQ(0, ckpt_wait_asleep(pid)) TH_LOG("the child did not wait (scenario %s)", scenario);
	ASSERT_EQ(0, ptrace(PTRACE_SEIZE, pid, 0, 0));
	ASSERT_EQ(0, ptrace(PTRACE_INTERRUPT, pid, 0, 0));
	ASSERT_EQ(pid, waitpid(pid, &status, __WALL));
	ASSERT_TRUE(WIFSTOPPED(status));
}

/*
 * Checkpoints the child with @flags (and @external declared external if >= 0)
 * into @image; rc, errno and log in @c; the image's bytes in @buf (one more
 * byte allocated) and @len.
 */
static inline void ckpt_child_dump(struct __test_metadata *_metadata, struct ckpt_child *c,
				   __u64 flags, int external)
{
	int out = open(c->image, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	struct stat st;

	ASSERT_GE(out, 0);
	memset(&c->args, 0, sizeof(c->args));
	c->args.flags = flags;
	c->args.fd = out;
	c->args.pid = c->pid;
	if (external >= 0) {
		c->args.external_fds = (__u64)(unsigned long)&external;
		c->args.nr_external_fds = 1;
	}
	c->args.log_buf = (__u64)(unsigned long)c->log;
	c->args.log_size = sizeof(c->log);
	c->log[0] = 0;
	errno = 0;
	c->rc = ioctl(c->dev, CKPT_IOC_CHECKPOINT, &c->args);
	c->err = errno;
	ASSERT_EQ(0, fstat(out, &st));
	free(c->buf);
	c->buf = malloc(st.st_size + 1);
	ASSERT_NE(NULL, c->buf);
	c->len = st.st_size;
	ASSERT_EQ(st.st_size, pread(out, c->buf, st.st_size, 0));
	close(out);
}

/*
 * ---- a process seen from outside ----
 *
 * Oracles independent of ckpt for what a checkpointed or restored process
 * holds: /proc/PID/mem and /proc/PID/maps.
 */

/* Up to @len bytes of @path (all of a /proc file too, read in turns): how many, or -1. */
static inline ssize_t ckpt_read_file(const char *path, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = 0, r = 0;

	if (fd < 0)
		return -1;
	while ((size_t)n < len && (r = read(fd, (char *)buf + n, len - n)) > 0)
		n += r;
	close(fd);
	return r < 0 ? -1 : n;
}

/* Reads (or, if @wr, writes) @len bytes at @addr of @pid through /proc/PID/mem: 0 or -1. */
static inline int ckpt_mem_rw(pid_t pid, uint64_t addr, void *buf, size_t len, bool wr)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, (wr ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = wr ? pwrite(fd, buf, len, addr) : pread(fd, buf, len, addr);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

static inline int ckpt_mem_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	return ckpt_mem_rw(pid, addr, buf, len, false);
}

static inline int ckpt_mem_write_u64(pid_t pid, uint64_t addr, uint64_t v)
{
	return ckpt_mem_rw(pid, addr, &v, sizeof(v), true);
}

/*
 * /proc/PID/maps (the vDSO and vvar included: ckpt restore moves them to the
 * image's place), with neighbours the kernel may or may not merge joined:
 * same protection and file, contiguous addresses and offsets (a mapping
 * mprotect()ed in two may come back as one). So two processes' maps compare
 * equal with strcmp() when they map the same.
 */
static inline void ckpt_maps_of(pid_t pid, char *out, size_t len)
{
	char path[64], line[512], perms[8], dev[16], name[256];
	char pperms[8] = "", pdev[16] = "", pname[256] = "";
	unsigned long start, end, off, ino, pstart = 0, pend = 0, poff = 0, pino = 0;
	int have = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	out[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		name[0] = 0;
		if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %255s", &start, &end, perms, &off, dev,
			   &ino, name) < 6)
			continue;
		if (have && start == pend && !strcmp(perms, pperms) && !strcmp(dev, pdev) &&
		    ino == pino && !strcmp(name, pname) && name[0] != '[' &&
		    (!ino || poff + (pend - pstart) == off)) {
			pend = end;
			continue;
		}
		if (have)
			snprintf(out + strlen(out), len - strlen(out), "%lx-%lx %s %lx %s %lu %s\n",
				 pstart, pend, pperms, poff, pdev, pino, pname);
		pstart = start;
		pend = end;
		poff = off;
		pino = ino;
		strcpy(pperms, perms);
		strcpy(pdev, dev);
		strcpy(pname, name);
		have = 1;
	}
	if (have)
		snprintf(out + strlen(out), len - strlen(out), "%lx-%lx %s %lx %s %lu %s\n",
			 pstart, pend, pperms, poff, pdev, pino, pname);
	if (f)
		fclose(f);
}

/*
 * ---- whole processes and the ckpt CLI ----
 *
 * The scaffolding of the whole-process tests: a traced child that reports
 * where its state is, checkpointed with CKPT_CHECKPOINT_PROCESS and killed,
 * then "ckpt restore --image" (the real CLI, as a user runs it) that must
 * turn into it.
 */

/* Kills *@pid if there is one (> 0), reaps it and forgets it (-1). */
static inline void ckpt_kill_child(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, __WALL);
	}
	*pid = -1;
}

/*
 * Spawns @argv traced (ckpt_spawn_traced()) into *@pid with fd 3 on a pipe,
 * runs it to its first stop and reads the @len bytes it reported on fd 3
 * into @info: the process tests' children say there where their state is.
 */
static inline void ckpt_spawn_reporting(struct __test_metadata *_metadata, char *const argv[],
					pid_t *pid, void *info, size_t len)
{
	int pipefd[2];

	ASSERT_EQ(0, pipe(pipefd));
	*pid = ckpt_spawn_traced(argv, pipefd[1], -1);
	close(pipefd[1]);
	ASSERT_GT(*pid, 0);
	ASSERT_EQ(0, ckpt_run_to_stop(*pid));
	ASSERT_EQ((ssize_t)len, read(pipefd[0], info, len));
	close(pipefd[0]);
}

/*
 * CKPT_IOC_CHECKPOINT of the stopped @pid as a whole process
 * (CKPT_CHECKPOINT_PROCESS) into @out; a refusal fails the test, with the
 * kernel's log.
 */
static inline void ckpt_dump_process(struct __test_metadata *_metadata, int dev, pid_t pid,
				     int out)
{
	struct ckpt_checkpoint a = { 0 };
	char log[512] = "";

	a.flags = CKPT_CHECKPOINT_PROCESS;
	a.fd = out;
	a.pid = pid;
	a.log_buf = (__u64)(unsigned long)log;
	a.log_size = sizeof(log);
	ASSERT_EQ(0, ioctl(dev, CKPT_IOC_CHECKPOINT, &a)) TH_LOG("checkpoint: %s", log);
}

/* ckpt_dump_process() into the file @image (created or truncated). */
static inline void ckpt_dump_process_to(struct __test_metadata *_metadata, int dev, pid_t pid,
					const char *image)
{
	int out = open(image, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ASSERT_GE(out, 0);
	ckpt_dump_process(_metadata, dev, pid, out);
	close(out);
}

/*
 * The ckpt CLI into @cli: $CKPT_CLI, or the release build in tools/ of the
 * tree this program was built in (its build directory is
 * tools/testing/selftests/ckpt/build). Not executable: the test fails, saying
 * how to build it.
 */
static inline void ckpt_find_cli(struct __test_metadata *_metadata, char *cli, size_t len)
{
	const char *env = getenv("CKPT_CLI");
	char here[PATH_MAX];

	if (env) {
		snprintf(cli, len, "%s", env);
	} else {
		ckpt_exe_dir(here, sizeof(here));
		snprintf(cli, len, "%s/../../../../target/release/ckpt", here);
	}
	ASSERT_EQ(0, access(cli, X_OK)) TH_LOG("no ckpt CLI at %s (make tools)", cli);
}

/* Logs what the CLI wrote to @errlog, its stderr: why it failed. */
static inline void ckpt_show_errlog(struct __test_metadata *_metadata, const char *errlog)
{
	char buf[2048];
	ssize_t n = ckpt_read_file(errlog, buf, sizeof(buf) - 1);

	buf[n > 0 ? n : 0] = 0;
	TH_LOG("ckpt said: %s", buf);
}

/*
 * Spawns "@cli restore --image @image" traced (ckpt_spawn_traced(): stopped
 * at its exec), its stderr into @errlog: its pid, or -1.
 */
static inline pid_t ckpt_spawn_restore(const char *cli, const char *image, const char *errlog)
{
	char *argv[] = { (char *)cli, "restore", "--image", (char *)image, NULL };
	int err = open(errlog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	pid_t pid;

	if (err < 0)
		return -1;
	pid = ckpt_spawn_traced(argv, -1, err);
	close(err);
	return pid;
}

/*
 * Runs ckpt_spawn_restore() into *@pid (at once, so that the fixture's
 * teardown kills it if the test fails) to its first stop: the restored
 * program's next step, a SIGSTOP like the original's. If it does not get
 * there, its error log is shown and the test fails with @what.
 */
static inline void ckpt_restore_to_stop(struct __test_metadata *_metadata, const char *cli,
					const char *image, const char *errlog, pid_t *pid,
					const char *what)
{
	int status;

	*pid = ckpt_spawn_restore(cli, image, errlog);
	ASSERT_GT(*pid, 0) TH_LOG("%s: ckpt restore did not start", what);
	status = ckpt_run_to_stop(*pid);
	if (status) {
		ckpt_show_errlog(_metadata, errlog);
		*pid = -1;
		ASSERT_EQ(0, status) TH_LOG("%s (status %#x)", what, status);
	}
}

/*
 * Runs ckpt_spawn_restore() of an image it must refuse: let go at its exec,
 * it must exit (not turn into the image's process); its wait status into
 * *@status.
 */
static inline void ckpt_restore_refused(struct __test_metadata *_metadata, const char *cli,
					const char *image, const char *errlog, pid_t *pid,
					int *status)
{
	*pid = ckpt_spawn_restore(cli, image, errlog);
	ASSERT_GT(*pid, 0) TH_LOG("ckpt restore did not start");
	ASSERT_EQ(0, ptrace(PTRACE_DETACH, *pid, 0, 0));
	ASSERT_EQ(*pid, waitpid(*pid, status, 0));
	*pid = -1;
	ASSERT_TRUE(WIFEXITED(*status)) TH_LOG("status %#x", *status);
}

/*
 * Tells the stopped (restored) child *@pid to quit, with the word at @quit
 * in its memory: it must exit with 42 at its next step, which it reaches
 * only if it runs on as the original would.
 */
static inline void ckpt_quit_42(struct __test_metadata *_metadata, pid_t *pid, uint64_t quit)
{
	int status;

	ASSERT_EQ(0, ckpt_mem_write_u64(*pid, quit, 1));
	ASSERT_EQ(0, ptrace(PTRACE_CONT, *pid, 0, 0));
	ASSERT_EQ(*pid, waitpid(*pid, &status, __WALL));
	*pid = -1;
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("status %#x", status);
	ASSERT_EQ(42, WEXITSTATUS(status));
}

/*
 * Phase A of a whole-process restart (CKPT_RESTART_PROCESS | @flags) from
 * @image_fd by this process, reported in @r: the errno, 0 if it validated.
 * A test must not commit a validated plan: the test would become the image's
 * process.
 */
static inline int ckpt_validate_process(int dev, int image_fd, __u64 flags, struct ckpt_rs *r)
{
	return ckpt_restart(dev, image_fd, CKPT_RESTART_PROCESS | flags, r) ? r->err : 0;
}

/* CKPT_IOC_RESTART_COMMIT: its errno (EINVAL: no validated plan was kept). */
static inline int ckpt_commit_errno(int dev)
{
	struct ckpt_restart_commit c = { 0 };

	return ioctl(dev, CKPT_IOC_RESTART_COMMIT, &c) ? errno : 0;
}

#endif /* CKPT_SELFTEST_H */
