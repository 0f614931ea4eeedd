// SPDX-License-Identifier: GPL-2.0
/*
 * File kinds with contents (CKPT_CHECKPOINT_FILE_CONTENTS): unlinked files on
 * tmpfs, ext4, ext2 and ext3 (the last two made by mkfs.ext2/mkfs.ext3 and
 * mounted through the ext4 driver), the "replaced" case, memfds with seals.
 * A test makes the file, records what the file system says of it (bytes,
 * SEEK_DATA/SEEK_HOLE map, size, mode, flags, position, seals), checkpoints
 * itself, closes the fds, restarts its own image and compares what the file
 * system says of the restored file: the oracle is the file system and fcntl,
 * not the codec.
 * Also: dup'd fds share the restored file, the size limit refuses with its
 * reason, and an image whose content length was edited is refused.
 *
 * Sizes are a few MiB (the guest is QEMU TCG with KASAN); the size limit test
 * writes 64 MiB + 4 KiB once per file system. A 256 MiB file is
 * ckpt_files_big_test's.
 */
#define _GNU_SOURCE
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/ckpt.h>

#include "kselftest_harness.h"
#include "ckpt_selftest.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE	0x0010
#endif

#define FD0		200
#define MAX_EXTERNAL	128
#define MiB		(1024 * 1024)
#define MAX_RUNS	64

/* The type /proc/self/mounts gives @path's mount ("?" if none). */
static const char *mount_type(const char *path)
{
	static char type[64];
	char line[1024], mnt[PATH_MAX];
	FILE *f = fopen("/proc/self/mounts", "re");

	strcpy(type, "?");
	while (f && fgets(line, sizeof(line), f)) {
		char t[64];

		if (sscanf(line, "%*s %4095s %63s", mnt, t) == 2 && !strcmp(mnt, path))
			strcpy(type, t);
	}
	if (f)
		fclose(f);
	return type;
}

static const char *const file_systems[] = { "tmpfs", "ext4", "ext2", "ext3" };
#define FS_PREFIX "/tmp/ckpt-files"
CKPT_UNMOUNT_AT_EXIT(FS_PREFIX, file_systems)

/*
 * Mounts @fs at its base directory unless an earlier test did (see
 * ckpt_ensure_fs()). 200 MiB: the size limit test writes 64 MiB and an image
 * of as much.
 */
static int ensure_fs(const char *fs, char *base, size_t len, char *err, size_t errlen)
{
	return ckpt_ensure_fs(FS_PREFIX, fs, 200, "loop", base, len, err, errlen);
}

/* ---- what the file system says of a file ---- */

struct run {
	off_t start, end;
};

/* The SEEK_DATA/SEEK_HOLE map of @fd (its position is kept). */
static int data_map(int fd, struct run *runs, int max)
{
	off_t saved = lseek(fd, 0, SEEK_CUR), pos = 0, size;
	struct stat st;
	int n = 0;

	if (fstat(fd, &st))
		return -1;
	size = st.st_size;
	while (pos < size) {
		off_t d = lseek(fd, pos, SEEK_DATA), h;

		if (d < 0 && errno == ENXIO)
			break;
		if (d < 0 || n == max)
			return -1;
		h = lseek(fd, d, SEEK_HOLE);
		if (h < 0)
			return -1;
		runs[n].start = d;
		runs[n].end = h;
		n++;
		pos = h;
	}
	if (lseek(fd, saved, SEEK_SET) != saved)
		return -1;
	return n;
}

struct facts {
	struct stat st;
	int fl;
	off_t pos;
	int nruns;
	struct run runs[MAX_RUNS];
	unsigned char *bytes;	/* st_size bytes, by pread */
	int seals;
};

static int facts_of(int fd, struct facts *f)
{
	ssize_t got = 0;

	memset(f, 0, sizeof(*f));
	if (fstat(fd, &f->st))
		return -1;
	f->fl = fcntl(fd, F_GETFL);
	f->pos = lseek(fd, 0, SEEK_CUR);
	f->nruns = data_map(fd, f->runs, MAX_RUNS);
	f->seals = fcntl(fd, F_GET_SEALS);
	f->bytes = malloc(f->st.st_size + 1);
	if (!f->bytes || f->nruns < 0)
		return -1;
	while (got < f->st.st_size) {
		ssize_t n = pread(fd, f->bytes + got, f->st.st_size - got, got);

		if (n <= 0)
			return -1;
		got += n;
	}
	return 0;
}

/* Which property of the restored file differs from the original's, or NULL. */
static const char *facts_differ(const struct facts *a, const struct facts *b)
{
	if ((a->st.st_mode) != (b->st.st_mode))
		return "mode";
	if (a->st.st_size != b->st.st_size)
		return "size";
	if (b->st.st_nlink != 0)
		return "link count (the restored file must have no name)";
	if (a->fl != b->fl)
		return "open flags";
	if (a->pos != b->pos)
		return "position";
	if (a->seals != b->seals)
		return "seals";
	if (memcmp(a->bytes, b->bytes, a->st.st_size))
		return "contents";
	if (a->nruns != b->nruns || memcmp(a->runs, b->runs, a->nruns * sizeof(a->runs[0])))
		return "SEEK_DATA/SEEK_HOLE map";
	return NULL;
}

/* A pattern no two offsets share in a short stretch. */
static void fill(unsigned char *buf, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)((i * 131 + seed * 7 + (i >> 9)) ^ (i >> 3));
}

static int pwrite_pattern(int fd, off_t at, size_t n, unsigned int seed)
{
	unsigned char *buf = malloc(n);
	ssize_t w;

	if (!buf)
		return -1;
	fill(buf, n, seed);
	w = pwrite(fd, buf, n, at);
	free(buf);
	return w == (ssize_t)n ? 0 : -1;
}

/* Moves @fd to exactly @want (free), keeping its flags; returns @want or -1. */
static int move_fd(int fd, int want)
{
	int fdfl = fcntl(fd, F_GETFD);

	if (fd == want)
		return want;
	if (fcntl(want, F_GETFD) >= 0 || dup3(fd, want, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) != want)
		return -1;
	close(fd);
	return want;
}

/* ---- the fixture ---- */

FIXTURE(files) {
	int dev;
	char base[64];
	char dir[128];
	int img;
	int ext[MAX_EXTERNAL + 8];
	int next;
};

FIXTURE_VARIANT(files) {
	const char *fs;
};

FIXTURE_VARIANT_ADD(files, tmpfs) {
	.fs = "tmpfs",
};
FIXTURE_VARIANT_ADD(files, ext4) {
	.fs = "ext4",
};
/* ext2 and ext3 file systems (mkfs.ext2, mkfs.ext3), served by the ext4 driver */
FIXTURE_VARIANT_ADD(files, ext2) {
	.fs = "ext2",
};
FIXTURE_VARIANT_ADD(files, ext3) {
	.fs = "ext3",
};

FIXTURE_SETUP(files)
{
	char path[PATH_MAX], err[PATH_MAX * 4];

	self->dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_GE(self->dev, 0) TH_LOG("open /dev/ckpt: %s (is ckpt.ko loaded?)", strerror(errno));
	ASSERT_EQ(0, ensure_fs(variant->fs, self->base, sizeof(self->base), err, sizeof(err)))
		TH_LOG("%s", err);
	ASSERT_EQ(0, strcmp(variant->fs, mount_type(self->base)))
		TH_LOG("%s is mounted as %s, not %s", self->base, mount_type(self->base), variant->fs);
	snprintf(self->dir, sizeof(self->dir), "%s/t-XXXXXX", self->base);
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(path, sizeof(path), "%s/image", self->dir);
	self->img = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_GE(self->img, 0);

	/* every fd open now (the harness's, the device, the image) is external */
	self->next = ckpt_open_fds(self->ext, MAX_EXTERNAL);
	ASSERT_GE(self->next, 0);
	for (int i = 0; i < self->next; i++)
		ASSERT_LT(self->ext[i], FD0);
}

FIXTURE_TEARDOWN(files)
{
	close(self->img);
	close(self->dev);
}

/* Checkpoints the caller into the emptied image file with @flags, rewound for restart. */
static int checkpoint_self(FIXTURE_DATA(files) *self, __u64 flags, struct ckpt_ck *c)
{
	memset(c, 0, sizeof(*c));
	if (ftruncate(self->img, 0) || lseek(self->img, 0, SEEK_SET)) {
		c->rc = -1;
		c->err = errno;
		return -1;
	}
	c->a.flags = flags;
	c->a.fd = self->img;
	c->a.external_fds = (__u64)(unsigned long)self->ext;
	c->a.nr_external_fds = self->next;
	c->a.log_buf = (__u64)(unsigned long)c->log;
	c->a.log_size = sizeof(c->log);
	errno = 0;
	c->rc = ioctl(self->dev, CKPT_IOC_CHECKPOINT, &c->a);
	c->err = c->rc ? errno : 0;
	if (!c->rc && lseek(self->img, 0, SEEK_SET))
		c->rc = -1;
	return c->rc;
}

static int restart_img(FIXTURE_DATA(files) *self, __u64 flags, struct ckpt_rs *r)
{
	if (lseek(self->img, 0, SEEK_SET)) {
		memset(r, 0, sizeof(*r));
		r->rc = -1;
		r->err = errno;
		return -1;
	}
	return ckpt_restart(self->dev, self->img, flags, r);
}

#define CK_LOG(c) TH_LOG("checkpoint: errno %d (%s) reason %u err_fd %d: %s", \
			 (c).err, strerror((c).err), (c).a.reason, (c).a.err_fd, (c).log)

static int entries_in(const char *dir)
{
	DIR *dp = opendir(dir);
	int n = 0;

	if (!dp)
		return -1;
	while (readdir(dp))
		n++;
	closedir(dp);
	return n;
}

/*
 * An unlinked file with data, a hole inside and a hole at the end, open at
 * FD0 (read-write, O_APPEND off, a position) and dup'd at FD0 + 1; restored
 * byte for byte with the same map, mode, flags and position, still unnamed,
 * in the same directory, shared by both fds.
 */
TEST_F_TIMEOUT(files, unlinked_round_trip, 120)
{
	char path[PATH_MAX];
	struct facts before, after;
	struct stat dst, st0, st1;
	struct ckpt_ck c;
	struct ckpt_rs r;
	const char *why;
	int fd, entries;

	snprintf(path, sizeof(path), "%s/gone", self->dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(FD0, move_fd(fd, FD0));
	ASSERT_EQ(0, pwrite_pattern(FD0, 0, 10000, 1));		/* across pages */
	ASSERT_EQ(0, pwrite_pattern(FD0, 1 * MiB + 3, 8192, 2));	/* after a hole */
	ASSERT_EQ(0, ftruncate(FD0, 3 * MiB));			/* a hole at the end */
	ASSERT_EQ(0, fchmod(FD0, 0640));
	ASSERT_EQ(12345, lseek(FD0, 12345, SEEK_SET));
	ASSERT_EQ(FD0 + 1, dup2(FD0, FD0 + 1));
	ASSERT_EQ(0, unlink(path));
	ASSERT_EQ(0, facts_of(FD0, &before));
	ASSERT_GE(before.nruns, 2) TH_LOG("the file system reports no hole: cannot test holes");
	entries = entries_in(self->dir);

	ASSERT_EQ(0, checkpoint_self(self, CKPT_CHECKPOINT_FILE_CONTENTS, &c)) CK_LOG(c);
	close(FD0);
	close(FD0 + 1);
	ASSERT_EQ(0, restart_img(self, 0, &r)) TH_LOG("%s", ckpt_rs_desc(&r));
	ASSERT_EQ(2U, r.a.nr_fds);

	ASSERT_EQ(0, facts_of(FD0, &after));
	why = facts_differ(&before, &after);
	ASSERT_EQ(NULL, why) TH_LOG("restored file differs: %s", why);
	/* in the directory it was in, still without a name there */
	ASSERT_EQ(0, stat(self->dir, &dst));
	ASSERT_EQ(dst.st_dev, after.st.st_dev);
	ASSERT_EQ(entries, entries_in(self->dir));
	/* dup'd fds share the file and its position */
	ASSERT_EQ(0, fstat(FD0, &st0));
	ASSERT_EQ(0, fstat(FD0 + 1, &st1));
	ASSERT_EQ(st0.st_ino, st1.st_ino);
	ASSERT_EQ(777, lseek(FD0, 777, SEEK_SET));
	ASSERT_EQ(777, lseek(FD0 + 1, 0, SEEK_CUR));
	close(FD0);
	close(FD0 + 1);
	free(before.bytes);
	free(after.bytes);
}

/*
 * The directory an unlinked file was in is gone at restart: refused before
 * anything is installed (ENOENT, CKPT_REASON_FILE_MISSING, the fd named), the
 * message says what to do; once the directory is made again, the same image
 * restarts, the file in it.
 */
TEST_F_TIMEOUT(files, unlinked_file_directory_gone, 120)
{
	char dir[PATH_MAX], path[PATH_MAX + 8];
	struct stat st, dst;
	struct ckpt_ck c;
	struct ckpt_rs r;
	int fd;

	snprintf(dir, sizeof(dir), "%s/sub", self->dir);
	ASSERT_EQ(0, mkdir(dir, 0755));
	snprintf(path, sizeof(path), "%s/tmp", dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(FD0, move_fd(fd, FD0));
	ASSERT_EQ(0, pwrite_pattern(FD0, 0, 5000, 8));
	ASSERT_EQ(0, unlink(path));
	ASSERT_EQ(0, checkpoint_self(self, CKPT_CHECKPOINT_FILE_CONTENTS, &c)) CK_LOG(c);
	close(FD0);
	ASSERT_EQ(0, rmdir(dir));

	ASSERT_EQ(-1, restart_img(self, 0, &r));
	ASSERT_EQ(ENOENT, r.err) TH_LOG("%s", ckpt_rs_desc(&r));
	ASSERT_EQ((__u32)CKPT_REASON_FILE_MISSING, r.a.reason);
	ASSERT_EQ(FD0, r.a.err_fd);
	ASSERT_NE(NULL, strstr(r.log, "create it again")) TH_LOG("%s", ckpt_rs_desc(&r));
	ASSERT_EQ(-1, fcntl(FD0, F_GETFD));

	ASSERT_EQ(0, mkdir(dir, 0755));
	ASSERT_EQ(0, restart_img(self, 0, &r)) TH_LOG("%s", ckpt_rs_desc(&r));
	ASSERT_EQ(0, fstat(FD0, &st));
	ASSERT_EQ(0, stat(dir, &dst));
	ASSERT_EQ(dst.st_dev, st.st_dev);
	ASSERT_EQ(5000, st.st_size);
	ASSERT_EQ(0U, st.st_nlink);
	close(FD0);
	ASSERT_EQ(0, rmdir(dir));
	ASSERT_EQ(0, ftruncate(self->img, 0));
}

/*
 * "Replaced": the file at a path was replaced (rename over it) while the old
 * one was open: the old one is unlinked, saved by contents and restored as an
 * unnamed file; the new one at the path is left alone. Read-only, O_APPEND
 * flags come back as recorded.
 */
TEST_F_TIMEOUT(files, replaced_file, 120)
{
	char path[PATH_MAX], tmp[PATH_MAX], buf[16];
	struct facts before, after;
	struct ckpt_ck c;
	struct ckpt_rs r;
	const char *why;
	int fd;

	snprintf(path, sizeof(path), "%s/config", self->dir);
	snprintf(tmp, sizeof(tmp), "%s/config.new", self->dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, pwrite_pattern(fd, 0, 5000, 3));
	close(fd);
	fd = open(path, O_RDONLY | O_APPEND | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(FD0, move_fd(fd, FD0));
	ASSERT_EQ(100, lseek(FD0, 100, SEEK_SET));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(3, write(fd, "new", 3));
	close(fd);
	ASSERT_EQ(0, rename(tmp, path));
	ASSERT_EQ(0, facts_of(FD0, &before));

	ASSERT_EQ(0, checkpoint_self(self, CKPT_CHECKPOINT_FILE_CONTENTS, &c)) CK_LOG(c);
	close(FD0);
	ASSERT_EQ(0, restart_img(self, 0, &r)) TH_LOG("%s", ckpt_rs_desc(&r));
	ASSERT_EQ(0, facts_of(FD0, &after));
	why = facts_differ(&before, &after);
	ASSERT_EQ(NULL, why) TH_LOG("restored file differs: %s", why);
	/* the new file at the path is untouched */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(3, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(0, memcmp(buf, "new", 3));
	close(fd);
	close(FD0);
	free(before.bytes);
	free(after.bytes);
}

/*
 * A memfd with a hole and seals: same name, contents, map, size and seals
 * after restart, and the seals are enforced: a write and a truncation of the
 * F_SEAL_WRITE | F_SEAL_SHRINK memfd fail with EPERM.
 */
TEST_F_TIMEOUT(files, memfd_with_seals, 120)
{
	const int seals = F_SEAL_SEAL | F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW;
	struct facts before, after;
	char proc[64], link[PATH_MAX], want[] = "/memfd:ckpt-files (deleted)";
	struct ckpt_ck c;
	struct ckpt_rs r;
	const char *why;
	ssize_t n;
	int fd;

	/* a memfd is on the kernel's shmem mount whatever the variant; the image is not */
	fd = memfd_create("ckpt-files", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(FD0, move_fd(fd, FD0));
	ASSERT_EQ(0, ftruncate(FD0, 2 * MiB));
	ASSERT_EQ(0, pwrite_pattern(FD0, 0, 3000, 4));
	ASSERT_EQ(0, pwrite_pattern(FD0, MiB + 5, 4096, 5));
	ASSERT_EQ(0, fcntl(FD0, F_ADD_SEALS, seals));
	ASSERT_EQ(42, lseek(FD0, 42, SEEK_SET));
	ASSERT_EQ(0, facts_of(FD0, &before));
	ASSERT_EQ(seals, before.seals);

	ASSERT_EQ(0, checkpoint_self(self, CKPT_CHECKPOINT_FILE_CONTENTS, &c)) CK_LOG(c);
	close(FD0);
	ASSERT_EQ(0, restart_img(self, 0, &r)) TH_LOG("%s", ckpt_rs_desc(&r));
	ASSERT_EQ(0, facts_of(FD0, &after));
	why = facts_differ(&before, &after);
	ASSERT_EQ(NULL, why) TH_LOG("restored memfd differs: %s (seals %#x -> %#x)", why,
				     before.seals, after.seals);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", FD0);
	n = readlink(proc, link, sizeof(link) - 1);
	ASSERT_GT(n, 0);
	link[n] = 0;
	ASSERT_STREQ(want, link);
	/* the seals are enforced */
	ASSERT_EQ(-1, pwrite(FD0, "x", 1, 0));
	ASSERT_EQ(EPERM, errno);
	ASSERT_EQ(-1, ftruncate(FD0, 1));
	ASSERT_EQ(EPERM, errno);
	ASSERT_EQ(-1, fcntl(FD0, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
	ASSERT_EQ(EPERM, errno);
	close(FD0);
	free(before.bytes);
	free(after.bytes);
}

/*
 * Size limits: 64 MiB and a page of data. Checkpoint refuses it by default (64
 * MiB of data per file), saves it with CKPT_CHECKPOINT_CONTENTS_UNLIMITED into
 * an image larger than CKPT_RESTART_MAX_IMAGE, which bounds only what restart
 * holds in memory: the contents stream through a spool, bounded by the
 * caller's soft RLIMIT_AS and RLIMIT_FSIZE: below the data, EFBIG naming the
 * limit, nothing installed.
 * With the limit back, the file comes back whole: on tmpfs only, as writing
 * 64 MiB through a loop device under TCG takes minutes (ckpt_files_big_test
 * restores a 256 MiB file on ext4). The image is a memfd at the image's fd
 * (still external): only the file's own data goes through the loop device.
 */
TEST_F_TIMEOUT(files, size_limit, 600)
{
	struct rlimit old, low;
	char path[PATH_MAX];
	struct facts before, after;
	struct ckpt_ck c;
	struct ckpt_rs r;
	const char *why;
	int fd, rc;

	fd = memfd_create("ckpt-size-limit-image", MFD_CLOEXEC);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(self->img, dup3(fd, self->img, O_CLOEXEC));
	close(fd);
	snprintf(path, sizeof(path), "%s/big", self->dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(FD0, move_fd(fd, FD0));
	for (int i = 0; i < 64; i++)
		ASSERT_EQ(0, pwrite_pattern(FD0, (off_t)i * MiB, MiB, i));
	ASSERT_EQ(0, pwrite_pattern(FD0, 64 * MiB, 4096, 99));
	ASSERT_EQ(0, unlink(path));

	ASSERT_EQ(-1, checkpoint_self(self, CKPT_CHECKPOINT_FILE_CONTENTS, &c));
	ASSERT_EQ(EFBIG, c.err) CK_LOG(c);
	ASSERT_EQ((__u32)CKPT_REASON_TOO_LARGE, c.a.reason);
	ASSERT_EQ(FD0, c.a.err_fd);
	ASSERT_NE(NULL, strstr(c.log, "CKPT_CHECKPOINT_CONTENTS_UNLIMITED")) CK_LOG(c);

	ASSERT_EQ(0, checkpoint_self(self, CKPT_CHECKPOINT_FILE_CONTENTS |
				     CKPT_CHECKPOINT_CONTENTS_UNLIMITED, &c)) CK_LOG(c);
	ASSERT_GT(c.a.bytes, (__u64)CKPT_RESTART_MAX_IMAGE);
	ASSERT_EQ(0, facts_of(FD0, &before));
	close(FD0);

	/* a soft RLIMIT_AS below the data: refused, by name (no allocation meanwhile) */
	ASSERT_EQ(0, getrlimit(RLIMIT_AS, &old));
	low = old;
	low.rlim_cur = 16 * MiB;
	ASSERT_EQ(0, setrlimit(RLIMIT_AS, &low));
	rc = restart_img(self, 0, &r);
	ASSERT_EQ(0, setrlimit(RLIMIT_AS, &old));
	ASSERT_EQ(-1, rc);
	ASSERT_EQ(EFBIG, r.err) TH_LOG("%s", ckpt_rs_desc(&r));
	ASSERT_EQ((__u32)CKPT_REASON_TOO_LARGE, r.a.reason);
	ASSERT_NE(NULL, strstr(r.log, "RLIMIT_AS")) TH_LOG("%s", ckpt_rs_desc(&r));
	ASSERT_NE(0ULL, r.a.err_record);
	ASSERT_EQ(-1, fcntl(FD0, F_GETFD));

	/*
	 * A soft RLIMIT_FSIZE below the data: refused the same way, by name. The
	 * spool is a file: writing it past that limit would have cost this
	 * process a SIGXFSZ (which kills it), not an error.
	 */
	ASSERT_EQ(0, getrlimit(RLIMIT_FSIZE, &old));
	low = old;
	low.rlim_cur = 16 * MiB;
	ASSERT_EQ(0, setrlimit(RLIMIT_FSIZE, &low));
	rc = restart_img(self, 0, &r);
	ASSERT_EQ(0, setrlimit(RLIMIT_FSIZE, &old));
	ASSERT_EQ(-1, rc);
	ASSERT_EQ(EFBIG, r.err) TH_LOG("%s", ckpt_rs_desc(&r));
	ASSERT_EQ((__u32)CKPT_REASON_TOO_LARGE, r.a.reason);
	ASSERT_NE(NULL, strstr(r.log, "RLIMIT_FSIZE")) TH_LOG("%s", ckpt_rs_desc(&r));
	ASSERT_EQ(-1, fcntl(FD0, F_GETFD));
	if (strcmp(variant->fs, "tmpfs")) {
		free(before.bytes);
		ASSERT_EQ(0, ftruncate(self->img, 0));
		return;
	}

	/* within it: the file comes back whole */
	ASSERT_EQ(0, restart_img(self, 0, &r)) TH_LOG("%s", ckpt_rs_desc(&r));
	ASSERT_EQ(c.a.bytes, r.a.bytes);
	ASSERT_EQ(0, facts_of(FD0, &after));
	why = facts_differ(&before, &after);
	ASSERT_EQ(NULL, why) TH_LOG("restored file differs: %s", why);
	close(FD0);
	free(before.bytes);
	free(after.bytes);
	ASSERT_EQ(0, ftruncate(self->img, 0));
}

/* Finds the first FILE record of @kind in @img; returns its payload offset or 0. */
static size_t find_file_record(const uint8_t *img, size_t len, uint16_t kind)
{
	size_t at = CKPT_HDR_LEN;

	while (at + CKPT_RHDR_LEN <= len) {
		uint16_t type = ckpt_get16(img + at);
		uint32_t rlen = ckpt_get32(img + at + 4);

		if (rlen < CKPT_RHDR_LEN || at + rlen > len)
			return 0;
		if (type == 0x0021 && ckpt_get16(img + at + CKPT_RHDR_LEN) == kind)
			return at + CKPT_RHDR_LEN;
		at += rlen;
	}
	return 0;
}

/* Finds the first record of @type in @img; returns its header's offset or 0. */
static size_t find_record(const uint8_t *img, size_t len, uint16_t type)
{
	size_t at = CKPT_HDR_LEN;

	while (at + CKPT_RHDR_LEN <= len) {
		uint32_t rlen = ckpt_get32(img + at + 4);

		if (rlen < CKPT_RHDR_LEN || at + rlen > len)
			return 0;
		if (ckpt_get16(img + at) == type)
			return at;
		at += rlen;
	}
	return 0;
}

/*
 * Hostile images: the content length of an unlinked file's record edited
 * (one byte more than its data runs hold), and its size cut below its data;
 * then the fields of its file_data record, which restart checks as the data
 * streams past (a file reference of 0, its own id, a record that is not the
 * file; an offset that puts the run past 2^63 - 1, or past the file's size).
 * The checksum is made right again, so only the restart's own checks can
 * refuse: EBADMSG, naming the record at fault, nothing installed.
 */
TEST_F_TIMEOUT(files, wrong_content_length_refused, 120)
{
	char path[PATH_MAX];
	struct ckpt_ck c;
	struct ckpt_rs r;
	uint8_t *img;
	size_t p, data, len, rec_len;
	__u64 file_id, data_id;
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/tmpfile", self->dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(FD0, move_fd(fd, FD0));
	ASSERT_EQ(0, pwrite_pattern(FD0, 0, 20000, 6));
	ASSERT_EQ(0, unlink(path));
	ASSERT_EQ(0, checkpoint_self(self, CKPT_CHECKPOINT_FILE_CONTENTS, &c)) CK_LOG(c);
	close(FD0);

	ASSERT_EQ(0, fstat(self->img, &st));
	len = st.st_size;
	img = malloc(len);
	ASSERT_NE(NULL, img);
	ASSERT_EQ((ssize_t)len, pread(self->img, img, len, 0));
	p = find_file_record(img, len, 7);
	ASSERT_NE(0U, p) TH_LOG("no unlinked-file record in the image");
	rec_len = ckpt_get32(img + p - CKPT_RHDR_LEN + 4);
	data = find_record(img, len, 0x0023);
	ASSERT_NE(0U, data) TH_LOG("no file_data record in the image");
	file_id = ckpt_get64(img + p - CKPT_RHDR_LEN + 8);
	data_id = ckpt_get64(img + data + 8);
	ASSERT_EQ(file_id + 1, data_id) TH_LOG("the file's data does not follow it");

	for (int edit = 0; edit < 7; edit++) {
		uint8_t *copy = malloc(len), *run;
		__u64 blamed = file_id;

		ASSERT_NE(NULL, copy);
		memcpy(copy, img, len);
		run = copy + data + CKPT_RHDR_LEN;	/* file, offset, data */
		switch (edit) {
		case 0: {
			/* data_len: the last 8 bytes of the record */
			uint8_t *dl = copy + p - CKPT_RHDR_LEN + rec_len - 8;

			ckpt_put64(dl, ckpt_get64(dl) + 1);
			break;
		}
		case 1:
			ckpt_put64(copy + p + 40, 4096);	/* size */
			blamed = data_id;			/* the run past it */
			break;
		case 2:
			ckpt_put64(run, 0);
			blamed = data_id;
			break;
		case 3:
			ckpt_put64(run, data_id);
			blamed = data_id;
			break;
		case 4:
			ckpt_put64(run, 1);			/* the environment vector */
			blamed = data_id;
			break;
		case 5:
			ckpt_put64(run + 8, (1ULL << 63) - 100);
			blamed = data_id;
			break;
		case 6:
			ckpt_put64(run + 8, 1 << 20);		/* within 2^63, past the size */
			blamed = data_id;
			break;
		}
		ckpt_put32(copy + len - 4, ckpt_crc32c(copy, len - 4));
		ASSERT_EQ(0, ftruncate(self->img, 0));
		ASSERT_EQ((ssize_t)len, pwrite(self->img, copy, len, 0));
		free(copy);
		ASSERT_EQ(-1, restart_img(self, 0, &r));
		ASSERT_EQ(EBADMSG, r.err) TH_LOG("edit %d: %s", edit, ckpt_rs_desc(&r));
		ASSERT_EQ((__u32)CKPT_REASON_BAD_IMAGE, r.a.reason);
		EXPECT_EQ(blamed, r.a.err_record) TH_LOG("edit %d: %s", edit, ckpt_rs_desc(&r));
		ASSERT_EQ(-1, fcntl(FD0, F_GETFD));
	}
	free(img);
}

TEST_HARNESS_MAIN
