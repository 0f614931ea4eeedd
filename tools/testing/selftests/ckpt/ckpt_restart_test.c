// SPDX-License-Identifier: GPL-2.0
/*
 * CKPT_IOC_RESTART: a test opens files at chosen fd numbers, checkpoints
 * itself, closes them (or changes the files), restarts its own image and
 * checks the fd table it gets back: numbers, inodes, positions, flags,
 * close-on-exec, shared offsets; and that every refusal (file missing,
 * replaced, changed, unreadable, fd busy, external fd missing) has its errno,
 * reason and err_fd and leaves the caller's fd table exactly as it was.
 *
 * Every test runs on tmpfs and on ext2, ext3 and ext4 (mkfs'd image files on
 * loop devices): tmpfs files are reopened by path, ext ones by path or else
 * by file handle, and each must behave as Documentation/restart.rst says.
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

#include "kselftest_harness.h"
#include "ckpt_selftest.h"

/* From linux/fs.h, which does not mix with sys/mount.h. */
#ifndef FS_IOC_GETFLAGS
#define FS_IOC_GETFLAGS		_IOR('f', 1, long)
#endif
#define FS_INDEX_FL		0x00001000	/* an htree directory */

/* The fds the tests put files at: well above what the harness leaves open. */
#define FD0			200
#define MAX_EXTERNAL		128
#define GiB			(1024LL * 1024 * 1024)
/* The status flags restart restores (restart.rst, "Open"); O_LARGEFILE is the kernel's. */
#define RESTORED_FLAGS		(O_ACCMODE | O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME | \
				 O_SYNC | O_DSYNC)

static const char *const file_systems[] = { "tmpfs", "ext2", "ext3", "ext4" };
#define FS_PREFIX "/tmp/ckpt-restart"
CKPT_UNMOUNT_AT_EXIT(FS_PREFIX, file_systems)

/*
 * Mounts @fs at its base directory unless an earlier test did (see
 * ckpt_ensure_fs()); 0 or a message in @err.
 */
static int ensure_fs(const char *fs, char *base, size_t len, char *err, size_t errlen)
{
	return ckpt_ensure_fs(FS_PREFIX, fs, strcmp(fs, "tmpfs") ? 64 : 256, "loop", base, len,
			      err, errlen);
}

/* ---- small helpers ---- */

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

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

/* Opens @path at exactly fd @fdno (which must be free), at position @pos. */
static int open_at(const char *path, int flags, int fdno, off_t pos)
{
	int fd, r;

	if (fd_open(fdno))
		return -1;
	fd = open(path, flags, 0644);
	if (fd < 0)
		return -1;
	if (fd != fdno) {
		r = dup3(fd, fdno, flags & O_CLOEXEC);
		close(fd);
		if (r != fdno)
			return -1;
	}
	if (pos && lseek(fdno, pos, SEEK_SET) != pos)
		return -1;
	return fdno;
}

static int fstat_ino(int fd, ino_t *ino)
{
	struct stat st;

	if (fstat(fd, &st))
		return -1;
	*ino = st.st_ino;
	return 0;
}

static long long pos_of(int fd)
{
	return lseek(fd, 0, SEEK_CUR);
}

/* ---- the fixture ---- */

FIXTURE(restart) {
	int dev;
	char base[64];
	char dir[128];
	int img;
	/* every fd open at setup: the harness's, the device, the image file */
	int ext[MAX_EXTERNAL + 8];
	int next;
};

FIXTURE_VARIANT(restart) {
	const char *fs;
	bool ext;
	int many;	/* fds of the many_fds test */
	int dirents;	/* entries of directory_partly_read's directory */
};

/*
 * The guest is QEMU TCG with KASAN: 10 000 fds (tmpfs) and a 3000-entry
 * htree directory (ext4) where they matter most, fewer on the others. Every
 * directory here spans many blocks, so it is an htree on every ext.
 */
FIXTURE_VARIANT_ADD(restart, tmpfs) {
	.fs = "tmpfs", .ext = false, .many = 10000, .dirents = 1500,
};
FIXTURE_VARIANT_ADD(restart, ext2) {
	.fs = "ext2", .ext = true, .many = 1000, .dirents = 1500,
};
FIXTURE_VARIANT_ADD(restart, ext3) {
	.fs = "ext3", .ext = true, .many = 1000, .dirents = 1500,
};
FIXTURE_VARIANT_ADD(restart, ext4) {
	.fs = "ext4", .ext = true, .many = 1000, .dirents = 3000,
};

FIXTURE_SETUP(restart)
{
	char path[PATH_MAX], err[PATH_MAX * 4];

	self->dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_GE(self->dev, 0) TH_LOG("open /dev/ckpt: %s (is ckpt.ko loaded?)", strerror(errno));
	ASSERT_EQ(0, ensure_fs(variant->fs, self->base, sizeof(self->base), err, sizeof(err)))
		TH_LOG("%s", err);
	/* a fresh directory per test, readable by the uid 65534 child of unreadable_file */
	snprintf(self->dir, sizeof(self->dir), "%s/t-XXXXXX", self->base);
	ASSERT_NE(NULL, mkdtemp(self->dir));
	ASSERT_EQ(0, chmod(self->dir, 0755));
	snprintf(path, sizeof(path), "%s/image", self->dir);
	self->img = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_GE(self->img, 0);

	/*
	 * The harness and the kselftest runner leave fds open (pipes, a
	 * terminal, log files): none of them is what a test restores, so
	 * every fd open now, the device and the image included, is declared
	 * external. Restart then requires them open, and they are.
	 */
	self->next = ckpt_open_fds(self->ext, MAX_EXTERNAL);
	ASSERT_GE(self->next, 0);
	for (int i = 0; i < self->next; i++) {
		ASSERT_LT(self->ext[i], FD0)
			TH_LOG("the harness left fd %d open: pick a higher FD0", self->ext[i]);
	}
}

FIXTURE_TEARDOWN(restart)
{
	/* the test's files stay on the file system, unmounted at exit */
	close(self->img);
	close(self->dev);
}

static void path_in(FIXTURE_DATA(restart) *self, const char *name, char *buf)
{
	snprintf(buf, PATH_MAX, "%s/%s", self->dir, name);
}

/* Checkpoints the caller at @out's current offset; @more are external fds besides setup's. */
static int checkpoint_into(FIXTURE_DATA(restart) *self, int out, const int *more, int nmore,
			   struct ckpt_ck *c)
{
	int ext[MAX_EXTERNAL + 8], n = self->next;

	memcpy(ext, self->ext, n * sizeof(int));
	if (nmore)
		memcpy(ext + n, more, nmore * sizeof(int));
	ckpt_checkpoint(self->dev, out, 0, ext, n + nmore, c);
	return c->rc;
}

/* Checkpoints the caller into the (emptied) image file, rewound for restart. */
static int checkpoint_self(FIXTURE_DATA(restart) *self, const int *more, int nmore, struct ckpt_ck *c)
{
	if (ftruncate(self->img, 0) || lseek(self->img, 0, SEEK_SET)) {
		memset(c, 0, sizeof(*c));
		c->rc = -1;
		c->err = errno;
		snprintf(c->log, sizeof(c->log), "emptying the image file failed");
		return -1;
	}
	if (checkpoint_into(self, self->img, more, nmore, c))
		return -1;
	if (lseek(self->img, 0, SEEK_SET)) {
		c->rc = -1;
		c->err = errno;
		return -1;
	}
	return 0;
}

static int restart_img(FIXTURE_DATA(restart) *self, __u64 flags, struct ckpt_rs *r)
{
	if (lseek(self->img, 0, SEEK_SET)) {
		memset(r, 0, sizeof(*r));
		r->rc = -1;
		r->err = errno;
		return -1;
	}
	return ckpt_restart(self->dev, self->img, flags, r);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool raise_nofile(rlim_t n)
{
	struct rlimit lim = { n, n };

	return setrlimit(RLIMIT_NOFILE, &lim) == 0;
}

/*
 * Restarts from the image file and snapshots the fd table after it. The
 * image file's offset is the one thing a failed restart changes: it
 * advances by the bytes read (returned in @img_pos). It is put back, so that
 * the snapshot compares with one taken before the restart.
 */
static int restart_and_snapshot(FIXTURE_DATA(restart) *self, __u64 flags, struct ckpt_rs *r,
				struct ckpt_fdsnap *s, long long *img_pos)
{
	restart_img(self, flags, r);
	*img_pos = pos_of(self->img);
	if (lseek(self->img, 0, SEEK_SET))
		return -1;
	return ckpt_fd_snapshot(s);
}

#define CKPT_OK(c) TH_LOG("checkpoint: errno %d (%s) reason %u err_fd %d: %s", \
			  (c).err, strerror((c).err), (c).a.reason, (c).a.err_fd, (c).log)

/* ---- round trip ---- */

struct rt_file {
	int fd;
	const char *name;	/* in the test directory, or absolute */
	int flags;
	off_t pos;
	int dup_of;		/* 0, or the fd this one is a dup of (shares its offset) */
};

static const struct rt_file rt_files[] = {
	{ 200, "data", O_RDWR, 5, 0 },
	{ 201, NULL, 0, 0, 200 },
	{ 1000, NULL, O_CLOEXEC, 0, 200 },	/* high number, close-on-exec dup */
	{ 202, "log", O_WRONLY | O_APPEND, 0, 0 },	/* position 0: only O_APPEND makes writes append */
	{ 203, "data", O_RDONLY | O_NONBLOCK, 3, 0 },
	{ 204, "sparse", O_RDONLY, 5 * GiB + 123, 0 },
	{ 205, "data", O_RDONLY | O_CLOEXEC, 6, 0 },
	{ 206, "/dev/null", O_WRONLY, 0, 0 },
	{ 207, "/dev/zero", O_RDONLY, 0, 0 },
	{ 208, "subdir", O_RDONLY | O_DIRECTORY, 0, 0 },
	{ 209, "data", O_RDONLY | O_NOATIME, 1, 0 },
	{ 210, "log", O_RDWR | O_SYNC, 2, 0 },
	{ 211, "sparse", O_RDONLY | O_DIRECT | O_DSYNC, 4096, 0 },
};
#define NR_RT (int)(sizeof(rt_files) / sizeof(rt_files[0]))

TEST_F_TIMEOUT(restart, round_trip, 120)
{
	struct ckpt_fdent before[NR_RT], after;
	char path[PATH_MAX], buf[16];
	struct stat st;
	struct ckpt_ck c;
	struct ckpt_rs r;
	int i, fd;

	ASSERT_TRUE(raise_nofile(4096));
	path_in(self, "data", path);
	ASSERT_EQ(0, write_file(path, "hello world"));
	path_in(self, "log", path);
	ASSERT_EQ(0, write_file(path, "abc"));
	path_in(self, "subdir", path);
	ASSERT_EQ(0, mkdir(path, 0755));
	path_in(self, "sparse", path);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, ftruncate(fd, 6 * GiB));
	close(fd);

	for (i = 0; i < NR_RT; i++) {
		const struct rt_file *f = &rt_files[i];

		if (f->dup_of) {
			ASSERT_FALSE(fd_open(f->fd));
			ASSERT_EQ(f->fd, dup3(f->dup_of, f->fd, f->flags & O_CLOEXEC));
			continue;
		}
		if (f->name[0] == '/')
			snprintf(path, sizeof(path), "%s", f->name);
		else
			path_in(self, f->name, path);
		ASSERT_EQ(f->fd, open_at(path, f->flags, f->fd, f->pos))
			TH_LOG("%s at fd %d: %s", path, f->fd, strerror(errno));
	}
	for (i = 0; i < NR_RT; i++)
		ckpt_fd_fill(rt_files[i].fd, &before[i]);

	ASSERT_EQ(0, checkpoint_self(self, NULL, 0, &c)) CKPT_OK(c);
	for (i = 0; i < NR_RT; i++)
		close(rt_files[i].fd);

	ASSERT_EQ(0, restart_img(self, 0, &r)) TH_LOG("%s", ckpt_rs_desc(&r));
	EXPECT_EQ((__u32)NR_RT, r.a.nr_fds);
	EXPECT_EQ((__u32)self->next, r.a.nr_external);
	EXPECT_EQ(c.a.bytes, r.a.bytes);
	/* the image was read to its end, and not past it */
	EXPECT_EQ((long long)c.a.bytes, pos_of(self->img));
	EXPECT_EQ(-1, r.a.err_fd);
	EXPECT_EQ((__u32)CKPT_REASON_NONE, r.a.reason);

	for (i = 0; i < NR_RT; i++) {
		const struct ckpt_fdent *b = &before[i];

		ASSERT_TRUE(fd_open(b->fd)) TH_LOG("fd %d (%s) not restored", b->fd, b->link);
		ckpt_fd_fill(b->fd, &after);
		EXPECT_STREQ(b->link, after.link);
		EXPECT_EQ(b->dev, after.dev) TH_LOG("fd %d %s", b->fd, b->link);
		EXPECT_EQ(b->ino, after.ino) TH_LOG("fd %d %s", b->fd, b->link);
		EXPECT_EQ(b->pos, after.pos) TH_LOG("fd %d %s", b->fd, b->link);
		EXPECT_EQ(b->fl & RESTORED_FLAGS, after.fl & RESTORED_FLAGS)
			TH_LOG("fd %d %s: f_flags %#o, restored %#o", b->fd, b->link, b->fl, after.fl);
		EXPECT_EQ(b->fdfl, after.fdfl) TH_LOG("fd %d close-on-exec", b->fd);
	}
	EXPECT_EQ(5 * GiB + 123, pos_of(204));
	EXPECT_EQ(FD_CLOEXEC, fcntl(1000, F_GETFD));
	EXPECT_EQ(FD_CLOEXEC, fcntl(205, F_GETFD));
	EXPECT_EQ(0, fcntl(200, F_GETFD));
	EXPECT_EQ(O_NONBLOCK, fcntl(203, F_GETFL) & O_NONBLOCK);
	EXPECT_EQ(O_NOATIME, fcntl(209, F_GETFL) & O_NOATIME);
	EXPECT_EQ(O_DIRECT, fcntl(211, F_GETFL) & O_DIRECT);
	EXPECT_EQ(O_SYNC, fcntl(210, F_GETFL) & O_SYNC);
	EXPECT_EQ(O_WRONLY, fcntl(202, F_GETFL) & O_ACCMODE);
	EXPECT_EQ(O_RDWR, fcntl(200, F_GETFL) & O_ACCMODE);

	/* 200, 201 and 1000 are one open file again: moving one moves all */
	ASSERT_EQ(7, lseek(200, 7, SEEK_SET));
	EXPECT_EQ(7, pos_of(201));
	EXPECT_EQ(7, pos_of(1000));
	/* 203 and 205 are opens of their own */
	EXPECT_EQ(3, pos_of(203));
	EXPECT_EQ(6, pos_of(205));
	/* and the files are the right ones: 209 reads "ello" at 1 */
	ASSERT_EQ(4, read(209, buf, 4));
	EXPECT_EQ(0, memcmp(buf, "ello", 4));

	/* O_APPEND: a write at position 0 lands at the end */
	ASSERT_EQ(3, write(202, "XYZ", 3));
	path_in(self, "log", path);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(6, st.st_size) TH_LOG("O_APPEND lost: the write overwrote");
	ASSERT_EQ(6, pread(210, buf, 6, 0));
	EXPECT_EQ(0, memcmp(buf, "abcXYZ", 6));

	/* the char devices are the devices */
	ASSERT_EQ(0, fstat(206, &st));
	EXPECT_EQ(makedev(1, 3), st.st_rdev);
	EXPECT_EQ(3, write(206, "abc", 3));
	ASSERT_EQ(0, fstat(207, &st));
	EXPECT_EQ(makedev(1, 5), st.st_rdev);
	memset(buf, 'x', sizeof(buf));
	ASSERT_EQ(8, read(207, buf, 8));
	EXPECT_EQ(0, memcmp(buf, "\0\0\0\0\0\0\0\0", 8));
}

/* ---- many fds ---- */

TEST_F_TIMEOUT(restart, many_fds, 500)
{
	int n = variant->many, i, fd, fillers[FD0], nfill;
	double t0, t1, t2, t3;
	char path[PATH_MAX];
	ino_t ino, got;
	struct ckpt_ck c;
	struct ckpt_rs r;

	/* fds FD0 .. FD0 + n - 1, plus headroom */
	ASSERT_TRUE(raise_nofile(FD0 + n + 64));
	path_in(self, "many", path);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, ftruncate(fd, n));
	ASSERT_EQ(0, fstat_ino(fd, &ino));
	close(fd);
	/*
	 * n open file descriptions at positions 0..n-1, except that every
	 * 100th fd is a dup of the one before it (same file, same position).
	 * The guest is slow: the free fds below FD0 are filled for a moment,
	 * so that open() and dup() return FD0, FD0 + 1, ... by themselves.
	 */
	t0 = now();
	for (nfill = 0; (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < FD0; nfill++) {
		ASSERT_GE(fd, 0);
		ASSERT_LT(nfill, FD0);
		fillers[nfill] = fd;
	}
	ASSERT_EQ(FD0, fd);
	close(fd);
	for (i = 0; i < n; i++) {
		if (i % 100 == 99) {
			ASSERT_EQ(FD0 + i, dup(FD0 + i - 1));
			continue;
		}
		ASSERT_EQ(FD0 + i, open(path, O_RDONLY)) TH_LOG("open #%d: %s", i, strerror(errno));
		ASSERT_EQ(i, lseek(FD0 + i, i, SEEK_SET));
	}
	for (i = 0; i < nfill; i++)
		close(fillers[i]);
	t1 = now();
	ASSERT_EQ(0, checkpoint_self(self, NULL, 0, &c)) CKPT_OK(c);
	t2 = now();
	ASSERT_EQ(0, syscall(SYS_close_range, FD0, FD0 + n - 1, 0));

	t3 = now();
	ASSERT_EQ(0, restart_img(self, 0, &r)) TH_LOG("%s", ckpt_rs_desc(&r));
	/* the guest is slow: say where the time goes */
	TH_LOG("%d fds: opening %.1f s, checkpoint %.1f s (%llu bytes), close_range %.1f s, restart %.1f s",
	       n, t1 - t0, t2 - t1, (unsigned long long)c.a.bytes, t3 - t2, now() - t3);
	EXPECT_EQ((__u32)n, r.a.nr_fds);
	EXPECT_EQ((__u32)self->next, r.a.nr_external);
	EXPECT_FALSE(fd_open(FD0 + n));
	for (i = 0; i < n; i++) {
		long long want = i % 100 == 99 ? i - 1 : i;

		ASSERT_EQ(0, fstat_ino(FD0 + i, &got)) TH_LOG("fd %d not restored", FD0 + i);
		ASSERT_EQ(ino, got) TH_LOG("fd %d", FD0 + i);
		ASSERT_EQ(want, pos_of(FD0 + i)) TH_LOG("fd %d", FD0 + i);
	}
	/* the dups share their offset again */
	for (i = 99; i < n; i += 100) {
		ASSERT_EQ(12345, lseek(FD0 + i - 1, 12345, SEEK_SET));
		ASSERT_EQ(12345, pos_of(FD0 + i)) TH_LOG("fd %d and %d", FD0 + i - 1, FD0 + i);
	}
}

/* ---- a directory read partly ---- */

#define MAX_DIRENTS 3000

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Counts the names of one getdents64 batch; returns the batch's entry count, 0 at the end. */
static int read_batch(int fd, int nr, unsigned char *seen, int *dots, int *strays)
{
	char buf[1024];
	long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
	int count = 0;
	long off;

	if (n < 0)
		return -1;
	for (off = 0; off < n; count++) {
		struct linux_dirent64 *d = (void *)(buf + off);
		char *end;
		long idx;

		off += d->d_reclen;
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..")) {
			dots[d->d_name[1] == '.']++;
			continue;
		}
		idx = strtol(d->d_name + 1, &end, 10);
		if (d->d_name[0] != 'e' || idx < 0 || idx >= nr || (*end && *end != '-'))
			(*strays)++;
		else if (seen[idx] < 255)
			seen[idx]++;
	}
	return count;
}

TEST_F_TIMEOUT(restart, directory_partly_read, 300)
{
	static unsigned char seen[MAX_DIRENTS];
	int nr = variant->dirents, dfd, i, got = 0, n, dots[2] = { 0, 0 }, strays = 0;
	char path[PATH_MAX], name[64];
	long long pos;
	struct ckpt_ck c;
	struct ckpt_rs r;

	path_in(self, "big", path);
	ASSERT_EQ(0, mkdir(path, 0755));
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(dfd, 0);
	/* hard links: names are what matters, and they cost no inode */
	i = openat(dfd, "e0", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_GE(i, 0);
	close(i);
	ASSERT_LE(nr, MAX_DIRENTS);
	for (i = 1; i < nr; i++) {
		/* names of varying length, so the hash order is nothing like the index order */
		snprintf(name, sizeof(name), "e%d-%.*s", i, i % 23, "xxxxxxxxxxxxxxxxxxxxxxxxx");
		ASSERT_EQ(0, linkat(dfd, "e0", dfd, name, 0)) TH_LOG("%s: %s", name, strerror(errno));
	}
	if (variant->ext) {
		long attr = 0;

		/* dir_index is on by default: a directory this big is an htree, f_pos a hash */
		ASSERT_EQ(0, ioctl(dfd, FS_IOC_GETFLAGS, &attr));
		ASSERT_TRUE(attr & FS_INDEX_FL) TH_LOG("not an htree directory (flags %#lx)", attr);
	}
	close(dfd);

	ASSERT_EQ(FD0, open_at(path, O_RDONLY | O_DIRECTORY, FD0, 0));
	while (got < nr / 2) {
		n = read_batch(FD0, nr, seen, dots, &strays);
		ASSERT_GT(n, 0);
		got += n;
	}
	pos = pos_of(FD0);
	ASSERT_GT(pos, 0);

	ASSERT_EQ(0, checkpoint_self(self, NULL, 0, &c)) CKPT_OK(c);
	close(FD0);
	ASSERT_EQ(0, restart_img(self, 0, &r)) TH_LOG("%s", ckpt_rs_desc(&r));
	ASSERT_EQ(pos, pos_of(FD0));

	while ((n = read_batch(FD0, nr, seen, dots, &strays)) > 0)
		got += n;
	ASSERT_EQ(0, n);

	EXPECT_EQ(0, strays);
	EXPECT_EQ(1, dots[0]);
	EXPECT_EQ(1, dots[1]);
	for (i = 0, n = 0; i < nr; i++) {
		if (seen[i] != 1 && n++ < 10)
			TH_LOG("entry e%d seen %d times", i, seen[i]);
	}
	EXPECT_EQ(0, n) TH_LOG("%d of %d entries not seen exactly once (%d read, pos %lld)",
			       n, nr, got, pos);
	EXPECT_EQ(nr + 2, got);
}

/* ---- identity ---- */

TEST_F_TIMEOUT(restart, renamed_file, 120)
{
	char path[PATH_MAX], to[PATH_MAX], dpath[PATH_MAX], dto[PATH_MAX], buf[8];
	ino_t ino, dino, got;
	struct ckpt_ck c;
	struct ckpt_rs r;

	path_in(self, "data", path);
	ASSERT_EQ(0, write_file(path, "hello world"));
	path_in(self, "dir", dpath);
	ASSERT_EQ(0, mkdir(dpath, 0755));
	path_in(self, "sub", to);
	ASSERT_EQ(0, mkdir(to, 0755));
	path_in(self, "sub/moved", to);
	path_in(self, "sub/dir-moved", dto);

	ASSERT_EQ(FD0, open_at(path, O_RDWR, FD0, 3));
	ASSERT_EQ(FD0 + 1, open_at(dpath, O_RDONLY | O_DIRECTORY, FD0 + 1, 0));
	ASSERT_EQ(0, fstat_ino(FD0, &ino));
	ASSERT_EQ(0, fstat_ino(FD0 + 1, &dino));
	ASSERT_EQ(0, checkpoint_self(self, NULL, 0, &c)) CKPT_OK(c);
	close(FD0);
	close(FD0 + 1);
	/* into another directory: neither the path nor the name holds */
	ASSERT_EQ(0, rename(path, to));
	ASSERT_EQ(0, rename(dpath, dto));

	restart_img(self, 0, &r);
	if (variant->ext) {
		/* found by handle wherever it went: the very inodes */
		ASSERT_EQ(0, r.rc) TH_LOG("%s", ckpt_rs_desc(&r));
		EXPECT_EQ(2U, r.a.nr_fds);
		ASSERT_EQ(0, fstat_ino(FD0, &got));
		EXPECT_EQ(ino, got);
		ASSERT_EQ(0, fstat_ino(FD0 + 1, &got));
		EXPECT_EQ(dino, got);
		EXPECT_EQ(3, pos_of(FD0));
		ASSERT_EQ(4, read(FD0, buf, 4));
		EXPECT_EQ(0, memcmp(buf, "lo w", 4));
	} else {
		/* tmpfs files are reopened by path: the path is gone */
		ASSERT_EQ(-1, r.rc);
		EXPECT_EQ(ENOENT, r.err) TH_LOG("%s", ckpt_rs_desc(&r));
		EXPECT_EQ((__u32)CKPT_REASON_FILE_MISSING, r.a.reason) TH_LOG("%s", ckpt_rs_desc(&r));
		EXPECT_TRUE(r.a.err_fd == FD0 || r.a.err_fd == FD0 + 1) TH_LOG("%s", ckpt_rs_desc(&r));
		EXPECT_FALSE(fd_open(FD0));
		EXPECT_FALSE(fd_open(FD0 + 1));
	}
}

static int drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	int ok;

	if (fd < 0)
		return -1;
	sync();
	/* 2: reclaim dentries and inodes */
	ok = write(fd, "2", 1) == 1;
	close(fd);
	return ok ? 0 : -1;
}

/*
 * Restarts a file and, from a second image, a directory, both renamed into
 * another directory and then evicted from the dcache and icache, so that
 * restart cannot find them through a cached dentry: the ext file handle
 * alone must find them (a directory reconnects through "..").
 */
TEST_F_TIMEOUT(restart, renamed_and_evicted, 120)
{
	char path[PATH_MAX], to[PATH_MAX], dpath[PATH_MAX], dto[PATH_MAX];
	int dimg, more[1];
	ino_t ino, dino, got;
	struct ckpt_ck c;
	struct ckpt_rs r;

	path_in(self, "data", path);
	ASSERT_EQ(0, write_file(path, "hello world"));
	path_in(self, "dir", dpath);
	ASSERT_EQ(0, mkdir(dpath, 0755));
	path_in(self, "sub", to);
	ASSERT_EQ(0, mkdir(to, 0755));
	path_in(self, "sub/moved", to);
	path_in(self, "sub/dir-moved", dto);

	/* the file's image in self->img, the directory's in another file */
	ASSERT_EQ(FD0, open_at(path, O_RDWR, FD0, 3));
	ASSERT_EQ(0, fstat_ino(FD0, &ino));
	ASSERT_EQ(0, checkpoint_self(self, NULL, 0, &c)) CKPT_OK(c);
	close(FD0);
	path_in(self, "dir-image", dto);
	dimg = open(dto, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_GE(dimg, 0);
	more[0] = dimg;
	ASSERT_EQ(FD0 + 1, open_at(dpath, O_RDONLY | O_DIRECTORY, FD0 + 1, 0));
	ASSERT_EQ(0, fstat_ino(FD0 + 1, &dino));
	ASSERT_EQ(0, checkpoint_into(self, dimg, more, 1, &c)) CKPT_OK(c);
	close(FD0 + 1);
	path_in(self, "sub/dir-moved", dto);

	ASSERT_EQ(0, rename(path, to));
	ASSERT_EQ(0, rename(dpath, dto));
	ASSERT_EQ(0, drop_caches());

	restart_img(self, 0, &r);
	if (variant->ext) {
		/*
		 * The handle of a regular file carries no parent: decoded, it
		 * is a disconnected dentry. The inode exists all the same, and
		 * "wherever it was renamed to" is what restart promises.
		 */
		EXPECT_EQ(0, r.rc) TH_LOG("renamed file, evicted: %s", ckpt_rs_desc(&r));
		if (!r.rc) {
			ASSERT_EQ(0, fstat_ino(FD0, &got));
			EXPECT_EQ(ino, got);
			EXPECT_EQ(3, pos_of(FD0));
		}
	} else {
		EXPECT_EQ(-1, r.rc);
		EXPECT_EQ((__u32)CKPT_REASON_FILE_MISSING, r.a.reason) TH_LOG("%s", ckpt_rs_desc(&r));
	}

	ASSERT_EQ(0, lseek(dimg, 0, SEEK_SET));
	ckpt_restart(self->dev, dimg, 0, &r);
	if (variant->ext) {
		EXPECT_EQ(0, r.rc) TH_LOG("renamed directory, evicted: %s", ckpt_rs_desc(&r));
		if (!r.rc) {
			ASSERT_EQ(0, fstat_ino(FD0 + 1, &got));
			EXPECT_EQ(dino, got);
		}
	} else {
		EXPECT_EQ(-1, r.rc);
		EXPECT_EQ((__u32)CKPT_REASON_FILE_MISSING, r.a.reason) TH_LOG("%s", ckpt_rs_desc(&r));
	}
}

/* A refusal because of the file at @fd: no fd installed, errno and reason as expected. */
static bool refused_replaced(const struct ckpt_rs *r, bool ext)
{
	if (r->rc != -1)
		return false;
	if (!ext)
		return r->err == ESTALE && r->a.reason == CKPT_REASON_FILE_REPLACED;
	/* ext: the original inode is gone, the handle finds nothing (or another generation) */
	return (r->err == ESTALE && (r->a.reason == CKPT_REASON_FILE_MISSING ||
				     r->a.reason == CKPT_REASON_FILE_REPLACED)) ||
	       (r->err == ENOENT && r->a.reason == CKPT_REASON_FILE_MISSING);
}

TEST_F_TIMEOUT(restart, replaced_file, 120)
{
	char path[PATH_MAX], aside[PATH_MAX];
	ino_t ino, got;
	struct ckpt_ck c;
	struct ckpt_rs r;

	/* 1. the original moved aside, another file at its path */
	path_in(self, "a", path);
	path_in(self, "a.orig", aside);
	ASSERT_EQ(0, write_file(path, "hello world"));
	ASSERT_EQ(FD0, open_at(path, O_RDONLY, FD0, 2));
	ASSERT_EQ(0, fstat_ino(FD0, &ino));
	ASSERT_EQ(0, checkpoint_self(self, NULL, 0, &c)) CKPT_OK(c);
	close(FD0);
	ASSERT_EQ(0, rename(path, aside));
	ASSERT_EQ(0, write_file(path, "hello world"));
	restart_img(self, 0, &r);
	if (variant->ext) {
		/* the handle finds the original; the impostor at the path is not it */
		ASSERT_EQ(0, r.rc) TH_LOG("%s", ckpt_rs_desc(&r));
		ASSERT_EQ(0, fstat_ino(FD0, &got));
		EXPECT_EQ(ino, got);
		EXPECT_EQ(2, pos_of(FD0));
		close(FD0);
	} else {
		ASSERT_EQ(-1, r.rc);
		EXPECT_EQ(ESTALE, r.err) TH_LOG("%s", ckpt_rs_desc(&r));
		EXPECT_EQ((__u32)CKPT_REASON_FILE_REPLACED, r.a.reason) TH_LOG("%s", ckpt_rs_desc(&r));
		EXPECT_EQ(FD0, r.a.err_fd);
		EXPECT_FALSE(fd_open(FD0));
	}

	/* 2. the original deleted, another file at its path (ext may reuse the inode number) */
	path_in(self, "b", path);
	ASSERT_EQ(0, write_file(path, "hello world"));
	ASSERT_EQ(FD0 + 1, open_at(path, O_RDONLY, FD0 + 1, 0));
	ASSERT_EQ(0, fstat_ino(FD0 + 1, &ino));
	ASSERT_EQ(0, checkpoint_self(self, NULL, 0, &c)) CKPT_OK(c);
	close(FD0 + 1);
	ASSERT_EQ(0, unlink(path));
	ASSERT_EQ(0, write_file(path, "hello world"));
	restart_img(self, 0, &r);
	EXPECT_TRUE(refused_replaced(&r, variant->ext)) TH_LOG("%s", ckpt_rs_desc(&r));
	EXPECT_EQ(FD0 + 1, r.a.err_fd);
	EXPECT_FALSE(fd_open(FD0 + 1));

	/* 3. the original deleted, a directory at its path: the file type differs too */
	path_in(self, "c", path);
	ASSERT_EQ(0, write_file(path, "hello world"));
	ASSERT_EQ(FD0 + 2, open_at(path, O_RDONLY, FD0 + 2, 0));
	ASSERT_EQ(0, checkpoint_self(self, NULL, 0, &c)) CKPT_OK(c);
	close(FD0 + 2);
	ASSERT_EQ(0, unlink(path));
	ASSERT_EQ(0, mkdir(path, 0755));
	restart_img(self, 0, &r);
	EXPECT_TRUE(refused_replaced(&r, variant->ext)) TH_LOG("%s", ckpt_rs_desc(&r));
	EXPECT_EQ(FD0 + 2, r.a.err_fd);
	EXPECT_FALSE(fd_open(FD0 + 2));
}

/* Refused as changed, then accepted with IGNORE_CONTENT; closes what was restored. */
static void changed_then_ignored(struct __test_metadata *_metadata,
				 FIXTURE_DATA(restart) *self, int fd, ino_t ino, long long pos,
				 const char *what)
{
	char want[32];
	ino_t got;
	struct ckpt_rs r;

	restart_img(self, 0, &r);
	ASSERT_EQ(-1, r.rc) TH_LOG("%s: accepted", what);
	EXPECT_EQ(ESTALE, r.err) TH_LOG("%s: %s", what, ckpt_rs_desc(&r));
	EXPECT_EQ((__u32)CKPT_REASON_FILE_CHANGED, r.a.reason) TH_LOG("%s: %s", what, ckpt_rs_desc(&r));
	EXPECT_EQ(fd, r.a.err_fd) TH_LOG("%s", what);
	snprintf(want, sizeof(want), "fd %d", fd);
	EXPECT_NE(NULL, strstr(r.log, want)) TH_LOG("%s: log \"%s\"", what, r.log);
	EXPECT_FALSE(fd_open(fd));

	restart_img(self, CKPT_RESTART_IGNORE_CONTENT, &r);
	ASSERT_EQ(0, r.rc) TH_LOG("%s, IGNORE_CONTENT: %s", what, ckpt_rs_desc(&r));
	ASSERT_EQ(0, fstat_ino(fd, &got));
	EXPECT_EQ(ino, got);
	EXPECT_EQ(pos, pos_of(fd));
	close(fd);
}

TEST_F_TIMEOUT(restart, changed_file, 120)
{
	char path[PATH_MAX], dpath[PATH_MAX], entry[PATH_MAX];
	struct timespec ts[2];
	struct stat st;
	ino_t ino;
	struct ckpt_ck c;
	struct ckpt_rs r;
	int fd;

	path_in(self, "data", path);
	ASSERT_EQ(0, write_file(path, "hello world"));
	ASSERT_EQ(FD0, open_at(path, O_RDWR, FD0, 4));
	ASSERT_EQ(0, fstat(FD0, &st));
	ino = st.st_ino;
	ASSERT_EQ(0, checkpoint_self(self, NULL, 0, &c)) CKPT_OK(c);
	close(FD0);

	/* appended to */
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(1, write(fd, "!", 1));
	close(fd);
	changed_then_ignored(_metadata, self, FD0, ino, 4, "appended");

	/* truncated below the position, which is restored all the same */
	ASSERT_EQ(0, truncate(path, 2));
	changed_then_ignored(_metadata, self, FD0, ino, 4, "truncated");

	/* same size, another mtime */
	ASSERT_EQ(0, truncate(path, 11));
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	ts[1].tv_sec += 100;
	ASSERT_EQ(0, utimensat(AT_FDCWD, path, ts, 0));
	changed_then_ignored(_metadata, self, FD0, ino, 4, "mtime");

	/* size and mtime as they were: accepted, though ctime moved on */
	ts[1] = st.st_mtim;
	ASSERT_EQ(0, utimensat(AT_FDCWD, path, ts, 0));
	ASSERT_EQ(0, restart_img(self, 0, &r)) TH_LOG("size and mtime restored: %s", ckpt_rs_desc(&r));
	EXPECT_EQ(4, pos_of(FD0));
	close(FD0);

	/* a directory that gained an entry */
	path_in(self, "dir", dpath);
	ASSERT_EQ(0, mkdir(dpath, 0755));
	ASSERT_EQ(FD0 + 1, open_at(dpath, O_RDONLY | O_DIRECTORY, FD0 + 1, 0));
	ASSERT_EQ(0, fstat(FD0 + 1, &st));
	ASSERT_EQ(0, checkpoint_self(self, NULL, 0, &c)) CKPT_OK(c);
	close(FD0 + 1);
	/* past a coarse clock tick: the new mtime must differ from the mkdir's */
	usleep(20000);
	path_in(self, "dir/new", entry);
	ASSERT_EQ(0, write_file(entry, "x"));
	changed_then_ignored(_metadata, self, FD0 + 1, st.st_ino, 0, "directory");
}

/* The uid 65534 side of unreadable_file; results go to shared memory. */
struct unreadable {
	int stage;		/* how far the child got */
	struct ckpt_ck c;
	struct ckpt_rs r1, r2;
	bool open_after_refusal;
};

static void unreadable_child(FIXTURE_DATA(restart) *self, const char *path, struct unreadable *u)
{
	u->stage = 1;
	if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		_exit(1);
	u->stage = 2;
	/* it can read the file, and checkpoints itself with it open */
	if (open_at(path, O_RDONLY, FD0, 2) != FD0)
		_exit(1);
	u->stage = 3;
	if (checkpoint_self(self, NULL, 0, &u->c))
		_exit(1);
	close(FD0);
	u->stage = 4;
	/* the image restores as long as it can read the file */
	if (restart_img(self, 0, &u->r1))
		_exit(1);
	close(FD0);
	u->stage = 5;
	/* the owner may chmod: now it cannot read its file */
	if (chmod(path, 0))
		_exit(1);
	u->stage = 6;
	restart_img(self, 0, &u->r2);
	u->open_after_refusal = fd_open(FD0);
	u->stage = 7;
	_exit(0);
}

TEST_F_TIMEOUT(restart, unreadable_file, 120)
{
	struct unreadable *u;
	char path[PATH_MAX];
	struct stat st;
	int status;
	ino_t got;
	struct ckpt_rs r;
	pid_t pid;

	path_in(self, "mine", path);
	ASSERT_EQ(0, write_file(path, "hello world"));
	ASSERT_EQ(0, chown(path, 65534, 65534));
	ASSERT_EQ(0, chmod(path, 0644));
	/* the child writes the image through our fd */
	ASSERT_EQ(0, fchmod(self->img, 0666));
	u = mmap(NULL, sizeof(*u), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, u);
	memset(u, 0, sizeof(*u));

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		unreadable_child(self, path, u);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(7, u->stage) TH_LOG("child stopped at stage %d: checkpoint errno %d %s; %s",
				      u->stage, u->c.err, u->c.log, ckpt_rs_desc(&u->r1));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(1U, u->r1.a.nr_fds);

	/* restart opens with the caller's credentials: uid 65534 may not read it now */
	EXPECT_EQ(-1, u->r2.rc);
	EXPECT_EQ(EACCES, u->r2.err) TH_LOG("%s", ckpt_rs_desc(&u->r2));
	EXPECT_EQ((__u32)CKPT_REASON_FILE_ACCESS, u->r2.a.reason) TH_LOG("%s", ckpt_rs_desc(&u->r2));
	EXPECT_EQ(FD0, u->r2.a.err_fd);
	EXPECT_FALSE(u->open_after_refusal);

	/* ... and root may, even though the image is uid 65534's */
	ASSERT_EQ(0, restart_img(self, 0, &r)) TH_LOG("%s", ckpt_rs_desc(&r));
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(0U, st.st_mode & 07777);
	ASSERT_EQ(0, fstat_ino(FD0, &got));
	EXPECT_EQ(st.st_ino, got);
	EXPECT_EQ(2, pos_of(FD0));
	munmap(u, sizeof(*u));
}

/* ---- fds in the caller ---- */

TEST_F_TIMEOUT(restart, fd_busy, 120)
{
	static struct ckpt_fdsnap s0, s1;
	char path[PATH_MAX], path2[PATH_MAX], diff[512], want[32];
	struct timespec ts[2];
	ino_t ino, ino2, got;
	long long img_pos;
	struct stat st;
	struct ckpt_ck c;
	struct ckpt_rs r;

	path_in(self, "data", path);
	ASSERT_EQ(0, write_file(path, "hello world"));
	path_in(self, "data2", path2);
	ASSERT_EQ(0, write_file(path2, "other"));
	ASSERT_EQ(FD0, open_at(path, O_RDWR, FD0, 3));
	ASSERT_EQ(FD0 + 1, open_at(path2, O_RDONLY, FD0 + 1, 1));
	ASSERT_EQ(0, fstat_ino(FD0, &ino));
	ASSERT_EQ(0, fstat_ino(FD0 + 1, &ino2));
	ASSERT_EQ(0, checkpoint_self(self, NULL, 0, &c)) CKPT_OK(c);
	close(FD0);
	close(FD0 + 1);
	/* something else at FD0 in the restorer */
	ASSERT_EQ(FD0, open_at("/dev/null", O_WRONLY, FD0, 0));

	ASSERT_EQ(0, ckpt_fd_snapshot(&s0));
	ASSERT_EQ(0, restart_and_snapshot(self, 0, &r, &s1, &img_pos));
	EXPECT_EQ((long long)r.a.bytes, img_pos);
	ASSERT_EQ(-1, r.rc);
	EXPECT_EQ(EBUSY, r.err) TH_LOG("%s", ckpt_rs_desc(&r));
	EXPECT_EQ((__u32)CKPT_REASON_FD_BUSY, r.a.reason) TH_LOG("%s", ckpt_rs_desc(&r));
	EXPECT_EQ(FD0, r.a.err_fd);
	snprintf(want, sizeof(want), "fd %d", FD0);
	EXPECT_NE(NULL, strstr(r.log, want)) TH_LOG("log \"%s\"", r.log);
	/* FD0 still /dev/null, FD0 + 1 not installed */
	EXPECT_EQ(0, ckpt_fd_snap_diff(&s0, &s1, diff, sizeof(diff))) TH_LOG("fd table changed: %s", diff);

	/*
	 * REPLACE_FDS, but FD0 + 1's file changed: the refusal comes after
	 * FD0 was found busy, and FD0 must still be ours.
	 */
	ASSERT_EQ(0, stat(path2, &st));
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	ts[1].tv_sec += 100;
	ASSERT_EQ(0, utimensat(AT_FDCWD, path2, ts, 0));
	ASSERT_EQ(0, restart_and_snapshot(self, CKPT_RESTART_REPLACE_FDS, &r, &s1, &img_pos));
	ASSERT_EQ(-1, r.rc) TH_LOG("accepted a changed file");
	EXPECT_EQ(ESTALE, r.err) TH_LOG("%s", ckpt_rs_desc(&r));
	EXPECT_EQ((__u32)CKPT_REASON_FILE_CHANGED, r.a.reason) TH_LOG("%s", ckpt_rs_desc(&r));
	EXPECT_EQ(FD0 + 1, r.a.err_fd);
	EXPECT_EQ(0, ckpt_fd_snap_diff(&s0, &s1, diff, sizeof(diff))) TH_LOG("fd table changed: %s", diff);
	ts[1] = st.st_mtim;
	ASSERT_EQ(0, utimensat(AT_FDCWD, path2, ts, 0));

	ASSERT_EQ(0, restart_img(self, CKPT_RESTART_REPLACE_FDS, &r)) TH_LOG("%s", ckpt_rs_desc(&r));
	EXPECT_EQ(2U, r.a.nr_fds);
	ASSERT_EQ(0, fstat_ino(FD0, &got));
	EXPECT_EQ(ino, got) TH_LOG("FD0 was not replaced");
	EXPECT_EQ(3, pos_of(FD0));
	EXPECT_EQ(O_RDWR, fcntl(FD0, F_GETFL) & O_ACCMODE);
	ASSERT_EQ(0, fstat_ino(FD0 + 1, &got));
	EXPECT_EQ(ino2, got);
	EXPECT_EQ(1, pos_of(FD0 + 1));
}

TEST_F_TIMEOUT(restart, external_missing, 120)
{
	static struct ckpt_fdsnap s0, s1;
	char path[PATH_MAX], diff[512], want[32];
	int p[2], more[1] = { 300 };
	ino_t null_ino, got;
	long long img_pos;
	struct ckpt_ck c;
	struct ckpt_rs r;

	ASSERT_FALSE(fd_open(300));
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(300, dup2(p[0], 300));
	close(p[0]);
	close(p[1]);
	path_in(self, "data", path);
	ASSERT_EQ(0, write_file(path, "hello world"));
	ASSERT_EQ(FD0, open_at(path, O_RDONLY, FD0, 0));
	/* 300 is the restorer's business: declared external */
	ASSERT_EQ(0, checkpoint_self(self, more, 1, &c)) CKPT_OK(c);
	close(FD0);
	close(300);

	ASSERT_EQ(0, ckpt_fd_snapshot(&s0));
	ASSERT_EQ(0, restart_and_snapshot(self, 0, &r, &s1, &img_pos));
	EXPECT_EQ((long long)r.a.bytes, img_pos);
	ASSERT_EQ(-1, r.rc);
	EXPECT_EQ(EBADF, r.err) TH_LOG("%s", ckpt_rs_desc(&r));
	EXPECT_EQ((__u32)CKPT_REASON_EXTERNAL_MISSING, r.a.reason) TH_LOG("%s", ckpt_rs_desc(&r));
	EXPECT_EQ(300, r.a.err_fd);
	snprintf(want, sizeof(want), "fd %d", 300);
	EXPECT_NE(NULL, strstr(r.log, want)) TH_LOG("log \"%s\"", r.log);
	EXPECT_EQ(0, ckpt_fd_snap_diff(&s0, &s1, diff, sizeof(diff))) TH_LOG("fd table changed: %s", diff);

	/* the restorer supplies its own file there, of another kind: kept as it is */
	ASSERT_EQ(300, open_at("/dev/null", O_RDONLY | O_CLOEXEC, 300, 0));
	ASSERT_EQ(0, fstat_ino(300, &null_ino));
	ASSERT_EQ(0, restart_img(self, 0, &r)) TH_LOG("%s", ckpt_rs_desc(&r));
	EXPECT_EQ(1U, r.a.nr_fds);
	EXPECT_EQ((__u32)self->next + 1, r.a.nr_external);
	ASSERT_EQ(0, fstat_ino(300, &got));
	EXPECT_EQ(null_ino, got);
	/* untouched: the image's fd 300 was not close-on-exec, ours is */
	EXPECT_EQ(FD_CLOEXEC, fcntl(300, F_GETFD));
	EXPECT_TRUE(fd_open(FD0));
}

TEST_F_TIMEOUT(restart, fd_beyond_rlimit, 120)
{
	static struct ckpt_fdsnap s0, s1;
	char path[PATH_MAX], diff[512];
	struct rlimit lim;
	long long img_pos;
	ino_t ino, got;
	struct ckpt_ck c;
	struct ckpt_rs r;

	ASSERT_TRUE(raise_nofile(2048));
	path_in(self, "data", path);
	ASSERT_EQ(0, write_file(path, "hello world"));
	ASSERT_EQ(FD0, open_at(path, O_RDONLY, FD0, 0));
	ASSERT_EQ(1500, open_at(path, O_RDONLY, 1500, 4));
	ASSERT_EQ(0, fstat_ino(1500, &ino));
	ASSERT_EQ(0, checkpoint_self(self, NULL, 0, &c)) CKPT_OK(c);
	close(FD0);
	close(1500);

	/* the restorer may not have fd 1500: refused, nothing installed */
	lim.rlim_cur = 1024;
	lim.rlim_max = 2048;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &lim));
	ASSERT_EQ(0, ckpt_fd_snapshot(&s0));
	ASSERT_EQ(0, restart_and_snapshot(self, 0, &r, &s1, &img_pos));
	ASSERT_EQ(-1, r.rc) TH_LOG("fd 1500 installed above RLIMIT_NOFILE 1024");
	EXPECT_EQ(EMFILE, r.err) TH_LOG("%s", ckpt_rs_desc(&r));
	EXPECT_EQ((__u32)CKPT_REASON_TOO_LARGE, r.a.reason) TH_LOG("%s", ckpt_rs_desc(&r));
	EXPECT_EQ(1500, r.a.err_fd);
	EXPECT_EQ(0, ckpt_fd_snap_diff(&s0, &s1, diff, sizeof(diff))) TH_LOG("fd table changed: %s", diff);

	/* the soft limit is what counts */
	lim.rlim_cur = 2048;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &lim));
	ASSERT_EQ(0, restart_img(self, 0, &r)) TH_LOG("%s", ckpt_rs_desc(&r));
	ASSERT_EQ(0, fstat_ino(1500, &got));
	EXPECT_EQ(ino, got);
	EXPECT_EQ(4, pos_of(1500));
}

/* ---- atomicity ---- */

#define NR_ATOMIC 8
enum fail_mode { FAIL_GONE, FAIL_CHANGED, FAIL_BUSY, NR_FAIL_MODES };
static const char *const fail_names[] = { "unlinked or replaced", "mtime changed", "fd busy" };

/*
 * An image of NR_ATOMIC files at fds FD0.., each at its own position, and
 * FD0 + NR_ATOMIC a dup of FD0 + 3; the files are closed again.
 */
static int atomic_image(FIXTURE_DATA(restart) *self, const char *tag, struct ckpt_ck *c)
{
	char path[PATH_MAX], name[32];
	int i;

	for (i = 0; i < NR_ATOMIC; i++) {
		snprintf(name, sizeof(name), "%s-f%d", tag, i);
		path_in(self, name, path);
		if (write_file(path, "0123456789abcdef") ||
		    open_at(path, i % 2 ? O_RDONLY : O_RDWR, FD0 + i, i + 1) != FD0 + i)
			return -1;
	}
	if (dup2(FD0 + 3, FD0 + NR_ATOMIC) != FD0 + NR_ATOMIC)
		return -1;
	if (checkpoint_self(self, NULL, 0, c))
		return -1;
	for (i = 0; i <= NR_ATOMIC; i++)
		close(FD0 + i);
	return 0;
}

TEST_F_TIMEOUT(restart, atomic_on_failure, 400)
{
	static struct ckpt_fdsnap s0, s1;
	char path[PATH_MAX], tag[16], name[32], diff[1024];
	int mode, k, bystander = -1;
	long long img_pos;
	struct timespec ts[2];
	struct stat st;
	struct ckpt_ck c;
	struct ckpt_rs r;

	/*
	 * For each way to fail and each k, an image whose k-th file cannot be
	 * restored: the files before it were already reopened when it fails,
	 * and must all be let go; the caller's table, with a file of its own
	 * open, must not change. A file unlinked or replaced is gone for good,
	 * so those images are made afresh for each k; a changed mtime and a
	 * busy fd are undone, so one image serves every k (and restores once
	 * nothing fails any more).
	 */
	for (mode = 0; mode < NR_FAIL_MODES; mode++) {
		for (k = 0; k < NR_ATOMIC; k++) {
			if (mode == FAIL_GONE || k == 0) {
				/* the bystander is the restorer's, not in the image */
				if (bystander >= 0)
					close(bystander);
				snprintf(tag, sizeof(tag), "m%d-k%d", mode, k);
				ASSERT_EQ(0, atomic_image(self, tag, &c)) CKPT_OK(c);
				path_in(self, "bystander", path);
				bystander = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
				ASSERT_GE(bystander, 0);
				ASSERT_EQ(3, write(bystander, "abc", 3));
			}
			snprintf(name, sizeof(name), "%s-f%d", tag, k);
			path_in(self, name, path);
			switch (mode) {
			case FAIL_GONE:
				ASSERT_EQ(0, unlink(path));
				if (k % 2)
					ASSERT_EQ(0, write_file(path, "0123456789abcdef"));
				break;
			case FAIL_CHANGED:
				ASSERT_EQ(0, stat(path, &st));
				ts[0] = st.st_atim;
				ts[1] = st.st_mtim;
				ts[1].tv_sec += 100;
				ASSERT_EQ(0, utimensat(AT_FDCWD, path, ts, 0));
				break;
			case FAIL_BUSY:
				ASSERT_EQ(FD0 + k, open_at("/dev/zero", O_RDONLY, FD0 + k, 0));
				break;
			}

			ASSERT_EQ(0, ckpt_fd_snapshot(&s0));
			ASSERT_EQ(0, restart_and_snapshot(self, 0, &r, &s1, &img_pos));
			EXPECT_EQ((long long)r.a.bytes, img_pos);
			ASSERT_EQ(-1, r.rc) TH_LOG("%s k=%d: accepted", fail_names[mode], k);
			EXPECT_EQ(0U, r.a.nr_fds);
			/* the dup at FD0 + NR_ATOMIC shares FD0 + 3's file: the lowest fd is named */
			EXPECT_EQ(FD0 + k, r.a.err_fd)
				TH_LOG("%s k=%d: %s", fail_names[mode], k, ckpt_rs_desc(&r));
			switch (mode) {
			case FAIL_GONE:
				if (k % 2) {
					EXPECT_TRUE(refused_replaced(&r, variant->ext))
						TH_LOG("replaced k=%d: %s", k, ckpt_rs_desc(&r));
					break;
				}
				EXPECT_TRUE(r.err == ENOENT || (variant->ext && r.err == ESTALE))
					TH_LOG("unlinked k=%d: %s", k, ckpt_rs_desc(&r));
				EXPECT_EQ((__u32)CKPT_REASON_FILE_MISSING, r.a.reason)
					TH_LOG("unlinked k=%d: %s", k, ckpt_rs_desc(&r));
				break;
			case FAIL_CHANGED:
				EXPECT_EQ(ESTALE, r.err)
					TH_LOG("%s k=%d: %s", fail_names[mode], k, ckpt_rs_desc(&r));
				EXPECT_EQ((__u32)CKPT_REASON_FILE_CHANGED, r.a.reason)
					TH_LOG("%s k=%d: %s", fail_names[mode], k, ckpt_rs_desc(&r));
				/* undone: the next k's image is whole again but for its k */
				ts[1] = st.st_mtim;
				ASSERT_EQ(0, utimensat(AT_FDCWD, path, ts, 0));
				break;
			case FAIL_BUSY:
				EXPECT_EQ(EBUSY, r.err)
					TH_LOG("%s k=%d: %s", fail_names[mode], k, ckpt_rs_desc(&r));
				EXPECT_EQ((__u32)CKPT_REASON_FD_BUSY, r.a.reason)
					TH_LOG("%s k=%d: %s", fail_names[mode], k, ckpt_rs_desc(&r));
				close(FD0 + k);
				break;
			}
			ASSERT_EQ(0, ckpt_fd_snap_diff(&s0, &s1, diff, sizeof(diff)))
				TH_LOG("%s k=%d: fd table changed: %s", fail_names[mode], k, diff);
		}
		if (mode == FAIL_GONE)
			continue;
		/* nothing fails any more: the same image restores */
		ASSERT_EQ(0, restart_img(self, 0, &r))
			TH_LOG("%s, all undone: %s", fail_names[mode], ckpt_rs_desc(&r));
		EXPECT_EQ((__u32)NR_ATOMIC + 1, r.a.nr_fds);
		EXPECT_EQ(4, pos_of(FD0 + 3));
		EXPECT_EQ(4, pos_of(FD0 + NR_ATOMIC));
		for (k = 0; k <= NR_ATOMIC; k++)
			close(FD0 + k);
	}
	close(bystander);
}

/* ---- the log buffer ---- */

TEST_F_TIMEOUT(restart, log_names_the_fd, 120)
{
	char path[PATH_MAX], want[32], small[10];
	struct ckpt_rs r, r2;
	struct ckpt_ck c;
	size_t len;

	path_in(self, "data", path);
	ASSERT_EQ(0, write_file(path, "hello world"));
	ASSERT_EQ(FD0 + 7, open_at(path, O_RDONLY, FD0 + 7, 0));
	ASSERT_EQ(0, checkpoint_self(self, NULL, 0, &c)) CKPT_OK(c);
	close(FD0 + 7);
	ASSERT_EQ(0, unlink(path));

	restart_img(self, 0, &r);
	ASSERT_EQ(-1, r.rc);
	EXPECT_EQ((__u32)CKPT_REASON_FILE_MISSING, r.a.reason) TH_LOG("%s", ckpt_rs_desc(&r));
	EXPECT_EQ(FD0 + 7, r.a.err_fd);
	snprintf(want, sizeof(want), "fd %d", FD0 + 7);
	EXPECT_NE(NULL, strstr(r.log, want)) TH_LOG("log \"%s\" does not name the fd", r.log);
	len = strnlen(r.log, sizeof(r.log));
	ASSERT_LT(len, sizeof(r.log));
	TH_LOG("message: %s", r.log);

	/* cut to log_size, NUL included: a prefix of the whole message */
	memset(small, 'X', sizeof(small));
	memset(&r2, 0, sizeof(r2));
	r2.a.fd = self->img;
	r2.a.log_buf = (__u64)(unsigned long)small;
	r2.a.log_size = sizeof(small);
	ASSERT_EQ(0, lseek(self->img, 0, SEEK_SET));
	ASSERT_EQ(-1, ioctl(self->dev, CKPT_IOC_RESTART, &r2.a));
	EXPECT_EQ(r.err, errno);
	ASSERT_NE(NULL, memchr(small, '\0', sizeof(small)));
	EXPECT_EQ(0, strncmp(small, r.log, strlen(small)));
	EXPECT_EQ(len < sizeof(small) ? len : sizeof(small) - 1, strlen(small));

	/* no buffer at all: the same failure */
	memset(&r2, 0, sizeof(r2));
	r2.a.fd = self->img;
	ASSERT_EQ(0, lseek(self->img, 0, SEEK_SET));
	ASSERT_EQ(-1, ioctl(self->dev, CKPT_IOC_RESTART, &r2.a));
	EXPECT_EQ(r.err, errno);
	EXPECT_EQ(r.a.reason, r2.a.reason);
	EXPECT_EQ(FD0 + 7, r2.a.err_fd);

	/* a buffer of size 0 is not written */
	memset(small, 'X', sizeof(small));
	memset(&r2, 0, sizeof(r2));
	r2.a.fd = self->img;
	r2.a.log_buf = (__u64)(unsigned long)small;
	ASSERT_EQ(0, lseek(self->img, 0, SEEK_SET));
	ASSERT_EQ(-1, ioctl(self->dev, CKPT_IOC_RESTART, &r2.a));
	EXPECT_EQ('X', small[0]);
}

/* ---- reading the image ---- */

#define TRAILER "TRAILER!"

TEST_F_TIMEOUT(restart, image_from_pipe, 120)
{
	char path[PATH_MAX], buf[64];
	int p[2], status;
	ino_t ino, got;
	struct ckpt_ck c;
	struct ckpt_rs r;
	pid_t pid;

	path_in(self, "data", path);
	ASSERT_EQ(0, write_file(path, "hello world"));
	ASSERT_EQ(FD0, open_at(path, O_RDONLY, FD0, 2));
	ASSERT_EQ(0, fstat_ino(FD0, &ino));
	ASSERT_EQ(0, checkpoint_self(self, NULL, 0, &c)) CKPT_OK(c);
	close(FD0);

	/*
	 * A writer that trickles the image in small pieces (restart sees
	 * short reads), then more bytes that are not the image's: restart
	 * must stop at the terminator and leave them in the pipe.
	 */
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char chunk[997];
		ssize_t n;

		close(p[0]);
		while ((n = read(self->img, chunk, sizeof(chunk))) > 0) {
			if (write(p[1], chunk, n) != n)
				_exit(1);
			usleep(1000);
		}
		if (n < 0 || write(p[1], TRAILER, strlen(TRAILER)) != (ssize_t)strlen(TRAILER))
			_exit(1);
		_exit(0);
	}
	close(p[1]);

	ckpt_restart(self->dev, p[0], 0, &r);
	if (r.rc) {
		/* a writer stuck on a full pipe gets EPIPE instead */
		close(p[0]);
		waitpid(pid, NULL, 0);
	}
	ASSERT_EQ(0, r.rc) TH_LOG("%s", ckpt_rs_desc(&r));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(c.a.bytes, r.a.bytes);
	EXPECT_EQ(1U, r.a.nr_fds);
	ASSERT_EQ(0, fstat_ino(FD0, &got));
	EXPECT_EQ(ino, got);
	EXPECT_EQ(2, pos_of(FD0));
	/* the writer is gone: what is left is the trailer, then EOF */
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ((ssize_t)strlen(TRAILER), read(p[0], buf, sizeof(buf)));
	EXPECT_STREQ(TRAILER, buf);
	close(p[0]);
}

TEST_F_TIMEOUT(restart, image_file_read_to_terminator, 120)
{
	char path[PATH_MAX], buf[64];
	static const char prefix[] = "PREFIX";
	const off_t start = sizeof(prefix) - 1;
	ino_t ino, got;
	struct ckpt_ck c;
	struct ckpt_rs r;

	path_in(self, "data", path);
	ASSERT_EQ(0, write_file(path, "hello world"));
	ASSERT_EQ(FD0, open_at(path, O_RDONLY, FD0, 9));
	ASSERT_EQ(0, fstat_ino(FD0, &ino));
	/* the image goes after a prefix, and is followed by a trailer */
	ASSERT_EQ(0, ftruncate(self->img, 0));
	ASSERT_EQ(0, lseek(self->img, 0, SEEK_SET));
	ASSERT_EQ(start, write(self->img, prefix, start));
	ASSERT_EQ(0, checkpoint_into(self, self->img, NULL, 0, &c)) CKPT_OK(c);
	ASSERT_EQ((off_t)(start + c.a.bytes), lseek(self->img, 0, SEEK_CUR));
	ASSERT_EQ((ssize_t)strlen(TRAILER), write(self->img, TRAILER, strlen(TRAILER)));
	close(FD0);

	/* read from the file's current offset, which advances by exactly the image */
	ASSERT_EQ(start, lseek(self->img, start, SEEK_SET));
	ASSERT_EQ(0, ckpt_restart(self->dev, self->img, 0, &r)) TH_LOG("%s", ckpt_rs_desc(&r));
	EXPECT_EQ(c.a.bytes, r.a.bytes);
	EXPECT_EQ((long long)(start + c.a.bytes), pos_of(self->img));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ((ssize_t)strlen(TRAILER), read(self->img, buf, sizeof(buf)));
	EXPECT_STREQ(TRAILER, buf);
	ASSERT_EQ(0, fstat_ino(FD0, &got));
	EXPECT_EQ(ino, got);
	EXPECT_EQ(9, pos_of(FD0));
}

TEST_HARNESS_MAIN
