/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers the ckpt kselftests share: little-endian fields and CRC-32C of the
 * image format (Documentation/image-format.rst, written from the document and
 * not from the codec, so the two check each other), CKPT_IOC_CHECKPOINT and
 * CKPT_IOC_RESTART calls with their results, fd table snapshots for "the
 * caller's fd table is exactly as before", and file systems a test mounts and
 * must be able to unmount.
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
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

static inline int ckpt_fdent_cmp(const void *a, const void *b)
{
	return ((const struct ckpt_fdent *)a)->fd - ((const struct ckpt_fdent *)b)->fd;
}

/* Every open fd of the caller (from /proc/self/fd, so none is missed), sorted. */
static inline int ckpt_fd_snapshot(struct ckpt_fdsnap *s)
{
	DIR *dp = opendir("/proc/self/fd");
	struct dirent *d;
	int fd;

	s->n = 0;
	if (!dp)
		return -1;
	while ((d = readdir(dp))) {
		if (d->d_name[0] == '.')
			continue;
		fd = atoi(d->d_name);
		if (fd == dirfd(dp))
			continue;
		if (s->n == CKPT_SNAP_MAX) {
			closedir(dp);
			return -1;
		}
		ckpt_fd_fill(fd, &s->e[s->n++]);
	}
	closedir(dp);
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

#endif /* CKPT_SELFTEST_H */
