// SPDX-License-Identifier: GPL-2.0
/*
 * A 256 MiB unlinked-but-open file, sparse in part, on tmpfs and on ext4 (a
 * sparse loop image in the guest's tmpfs), checkpointed with its contents
 * (CKPT_CHECKPOINT_FILE_CONTENTS):
 *
 * - the default limit (64 MiB of data per file) refuses it first, with
 *   EFBIG, CKPT_REASON_TOO_LARGE, the fd, and a message naming the data size
 *   and CKPT_CHECKPOINT_CONTENTS_UNLIMITED;
 * - with CKPT_CHECKPOINT_CONTENTS_UNLIMITED it is saved, streamed into a
 *   pipe (neither the test nor the kernel holds the image): a child reads the
 *   stream as Documentation/image-format.rst describes it and compares it
 *   with what the file system says of the file: the file record's size and
 *   data length, the runs of data against the SEEK_DATA/SEEK_HOLE map (holes
 *   stay holes: no byte of a hole is in the image) and every byte against
 *   pread() of the file.
 *
 * - the child also keeps the stream in a file; the original file is closed
 *   (and so freed), and the image is restarted through a pipe: restart
 *   streams the contents through its spool into a new unnamed file in the
 *   same directory, at the same fd. It must have the size, mode, no link,
 *   position and open flags of the original, the same SEEK_DATA/SEEK_HOLE
 *   map, and every byte of the pattern the test wrote.
 *
 * The oracle is the file system (fstat, SEEK_DATA/SEEK_HOLE, pread) and the
 * pattern generator, not the encoder.
 *
 * Runtime: the file holds 159 MiB of data; each variant writes it once and
 * streams it once. Measured under TCG with KASAN, 5 guests sharing 2 cores:
 * tmpfs 79 s (write 7.6 s, checkpoint and judge 59.4 s), ext4 249 s (write
 * 63.5 s through the loop device, checkpoint and judge 43.7 s, the rest
 * mkfs, mount and unmount).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/ckpt.h>

#include "kselftest_harness.h"
#include "ckpt_selftest.h"

#define FD0		200
#define MAX_EXTERNAL	128
#define MiB		(1024 * 1024LL)
#define FILE_SIZE	(256 * MiB)
#define MAX_RUNS	16
#define CHUNK		(1 * MiB)

#define REC_TERMINATOR	0x0001
#define REC_FILE	0x0021
#define REC_FILE_DATA	0x0023
#define KIND_UNLINKED	7

struct run {
	long long start, end;
};

/* Where the file has data: [start, end) runs; the rest of its 256 MiB are holes. */
static const struct run layout[] = {
	{ 0, 96 * MiB },			/* 96 MiB from the start */
	{ 128 * MiB, 128 * MiB + 4096 + 3 },	/* a page and 3 bytes after a hole */
	{ 192 * MiB, 255 * MiB },		/* 63 MiB; a hole to the end */
};

/* The bytes at @off: a 64-bit pattern that differs at every 8-byte word. */
static void fill(uint64_t *buf, size_t n, long long off)
{
	for (size_t i = 0; i < n / 8; i++)
		buf[i] = ((uint64_t)(off / 8 + i) * 0x9E3779B97F4A7C15ULL) ^ 0xC0FFEE;
}

/* The SEEK_DATA/SEEK_HOLE map of @fd, by pread-free lseeks (its position is kept). */
static int data_map(int fd, long long size, struct run *runs, int max)
{
	off_t saved = lseek(fd, 0, SEEK_CUR), pos = 0;
	int n = 0;

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
		runs[n].end = h < size ? h : size;
		n++;
		pos = h;
	}
	return lseek(fd, saved, SEEK_SET) == saved ? n : -1;
}

/* What the child found wrong, for the parent's log (a shared page). */
struct verdict {
	int done;
	long long data_bytes, records, image_bytes;
	char why[512];
};

/* ---- the child: reads the image stream and judges it against the file ---- */

struct reader {
	int fd;
	int copy;		/* where what is read is kept too */
	long long at;		/* bytes read so far */
};

static int read_exact(struct reader *r, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(r->fd, (char *)buf + got, n - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		got += k;
	}
	for (size_t done = 0; done < n;) {
		ssize_t k = write(r->copy, (char *)buf + done, n - done);

		if (k <= 0)
			return -1;
		done += k;
	}
	r->at += n;
	return 0;
}

static int skip(struct reader *r, size_t n)
{
	static uint8_t sink[65536];

	while (n) {
		size_t k = n < sizeof(sink) ? n : sizeof(sink);

		if (read_exact(r, sink, k))
			return -1;
		n -= k;
	}
	return 0;
}

static int say(struct verdict *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
	return 1;
}

/*
 * Judges the image read from @in: the unlinked file's record (kind 7) must
 * say @st's size and the map's data length, and its file_data records, joined
 * where they touch, must be exactly @map's runs holding exactly the bytes
 * pread(@file) gives. Returns 0 or 1 (v->why says what).
 */
static int judge(int in, int copy, int file, const struct stat *st, const struct run *map,
		 int nmap, struct verdict *v)
{
	struct reader r = { .fd = in, .copy = copy };
	uint8_t hdr[CKPT_HDR_LEN], rh[CKPT_RHDR_LEN], *payload = NULL;
	uint8_t *got = malloc(CHUNK), *want = malloc(CHUNK);
	long long map_len = 0, run_start = -1, run_end = -1;
	uint64_t file_id = 0;
	int nrun = 0;

	if (!got || !want)
		return say(v, "out of memory");
	for (int i = 0; i < nmap; i++)
		map_len += map[i].end - map[i].start;
	if (read_exact(&r, hdr, sizeof(hdr)) || memcmp(hdr, CKPT_MAGIC, 8))
		return say(v, "no image header");
	for (;;) {
		uint16_t type;
		uint32_t len;

		if (read_exact(&r, rh, sizeof(rh)))
			return say(v, "the stream ends inside a record header at %lld", r.at);
		type = ckpt_get16(rh);
		len = ckpt_get32(rh + 4);
		if (len < CKPT_RHDR_LEN)
			return say(v, "record length %u at %lld", len, r.at);
		len -= CKPT_RHDR_LEN;
		v->records++;
		if (type == REC_FILE_DATA) {
			uint8_t fd_hdr[16];
			long long off;

			if (len <= 16 || read_exact(&r, fd_hdr, 16))
				return say(v, "short file_data record at %lld", r.at);
			if (!file_id || ckpt_get64(fd_hdr) != file_id)
				return say(v, "file_data of file %llu, not of the unlinked file's %llu",
					   (unsigned long long)ckpt_get64(fd_hdr),
					   (unsigned long long)file_id);
			off = (long long)ckpt_get64(fd_hdr + 8);
			len -= 16;
			/* runs that touch are one run of the map (a run is split in records) */
			if (off != run_end) {
				if (run_start >= 0 &&
				    (nrun >= nmap || map[nrun].start != run_start ||
				     map[nrun].end != run_end))
					return say(v, "image run %d is [%lld, %lld), the file system's is [%lld, %lld)",
						   nrun, run_start, run_end,
						   nrun < nmap ? map[nrun].start : -1LL,
						   nrun < nmap ? map[nrun].end : -1LL);
				if (run_start >= 0)
					nrun++;
				if (off < run_end)
					return say(v, "runs overlap or go back at %lld", off);
				run_start = off;
			}
			run_end = off + len;
			while (len) {
				size_t k = len < CHUNK ? len : CHUNK;

				if (read_exact(&r, got, k))
					return say(v, "the stream ends inside file data at %lld", r.at);
				if (pread(file, want, k, off) != (ssize_t)k)
					return say(v, "pread at %lld: the image has data past the file's", off);
				if (memcmp(got, want, k))
					return say(v, "the bytes at file offset %lld differ from the file's", off);
				v->data_bytes += k;
				off += k;
				len -= k;
			}
			continue;
		}
		if (type == REC_FILE && len >= 80) {
			payload = realloc(payload, len);
			if (!payload || read_exact(&r, payload, len))
				return say(v, "short file record at %lld", r.at);
			if (ckpt_get16(payload) != KIND_UNLINKED)
				continue;
			if (file_id)
				return say(v, "a second unlinked file record");
			file_id = ckpt_get64(rh + 8);
			if ((long long)ckpt_get64(payload + 40) != st->st_size)
				return say(v, "the record's size is %lld, the file's %lld",
					   (long long)ckpt_get64(payload + 40), (long long)st->st_size);
			if ((long long)ckpt_get64(payload + len - 8) != map_len)
				return say(v, "the record's data_len is %lld, the map's data %lld",
					   (long long)ckpt_get64(payload + len - 8), map_len);
			if (ckpt_get64(payload + 32) != st->st_ino)
				return say(v, "the record's inode is not the file's");
			continue;
		}
		if (skip(&r, len))
			return say(v, "the stream ends inside a record at %lld", r.at);
		if (type == REC_TERMINATOR)
			break;
	}
	if (run_start >= 0) {
		if (nrun >= nmap || map[nrun].start != run_start || map[nrun].end != run_end)
			return say(v, "last image run [%lld, %lld) is not the file system's run %d",
				   run_start, run_end, nrun);
		nrun++;
	}
	if (nrun != nmap)
		return say(v, "the image has %d runs of data, the file system %d", nrun, nmap);
	if (v->data_bytes != map_len)
		return say(v, "the image has %lld bytes of data, the file system %lld",
			   v->data_bytes, map_len);
	if (read(in, got, 1) != 0)
		return say(v, "bytes after the terminator");
	v->image_bytes = r.at;
	v->done = 1;
	free(got);
	free(want);
	free(payload);
	return 0;
}

/* ---- the fixture ---- */

FIXTURE(big) {
	int dev;
	char base[64];
	int ext[MAX_EXTERNAL + 8];
	int next;
};

FIXTURE_VARIANT(big) {
	const char *fs;
	int mib;	/* tmpfs size, or the (sparse) loop image's */
};

FIXTURE_VARIANT_ADD(big, tmpfs) {
	.fs = "tmpfs",
	.mib = 300,
};
FIXTURE_VARIANT_ADD(big, ext4) {
	.fs = "ext4",
	.mib = 320,
};

FIXTURE_SETUP(big)
{
	char err[PATH_MAX * 4];
	struct dirent *d;
	DIR *dp;
	int fd;

	self->dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_GE(self->dev, 0) TH_LOG("open /dev/ckpt: %s (is ckpt.ko loaded?)", strerror(errno));
	snprintf(self->base, sizeof(self->base), "/tmp/ckpt-files-big-%s", variant->fs);
	ASSERT_EQ(0, ckpt_mount_fs(variant->fs, self->base, variant->mib, "loop", err,
				   sizeof(err))) TH_LOG("%s", err);

	/* every fd open now (the harness's, the device) is external */
	self->next = 0;
	dp = opendir("/proc/self/fd");
	ASSERT_NE(NULL, dp);
	while ((d = readdir(dp))) {
		if (d->d_name[0] == '.')
			continue;
		fd = atoi(d->d_name);
		if (fd == dirfd(dp))
			continue;
		ASSERT_LT(self->next, MAX_EXTERNAL);
		ASSERT_LT(fd, FD0);
		self->ext[self->next++] = fd;
	}
	closedir(dp);
}

FIXTURE_TEARDOWN(big)
{
	close(self->dev);
	ckpt_unmount_fs(self->base);
}

static int checkpoint_into(FIXTURE_DATA(big) *self, int out, __u64 flags, struct ckpt_ck *c)
{
	int n = self->next;

	memset(c, 0, sizeof(*c));
	self->ext[n++] = out;
	c->a.flags = flags;
	c->a.fd = out;
	c->a.external_fds = (__u64)(unsigned long)self->ext;
	c->a.nr_external_fds = n;
	c->a.log_buf = (__u64)(unsigned long)c->log;
	c->a.log_size = sizeof(c->log);
	errno = 0;
	c->rc = ioctl(self->dev, CKPT_IOC_CHECKPOINT, &c->a);
	c->err = c->rc ? errno : 0;
	return c->rc;
}

#define CK_LOG(c) TH_LOG("checkpoint: errno %d (%s) reason %u err_fd %d: %s", \
			 (c).err, strerror((c).err), (c).a.reason, (c).a.err_fd, (c).log)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Restarts the image in @image through a pipe (read by a child, so that
 * restart cannot seek). The fd the checkpoint wrote to, @out, was external:
 * its number must be open again. Returns the restart's result in @r.
 */
static void restart_through_pipe(struct __test_metadata *_metadata, FIXTURE_DATA(big) *self,
				 const char *image, int out, struct ckpt_rs *r)
{
	int q[2], status;
	pid_t feeder;

	ASSERT_EQ(0, pipe2(q, O_CLOEXEC));
	feeder = fork();
	ASSERT_GE(feeder, 0);
	if (feeder == 0) {
		static char chunk[CHUNK];
		int in = open(image, O_RDONLY | O_CLOEXEC);
		ssize_t n;

		close(q[0]);
		if (in < 0)
			_exit(1);
		while ((n = read(in, chunk, sizeof(chunk))) > 0) {
			for (ssize_t done = 0; done < n;) {
				ssize_t k = write(q[1], chunk + done, n - done);

				if (k <= 0)
					_exit(2);
				done += k;
			}
		}
		_exit(n == 0 ? 0 : 3);
	}
	close(q[1]);
	if (fcntl(out, F_GETFD) < 0)
		ASSERT_EQ(out, dup3(q[0], out, O_CLOEXEC));
	ckpt_restart(self->dev, q[0], 0, r);
	close(q[0]);
	ASSERT_EQ(feeder, waitpid(feeder, &status, 0));
	/* restart reads up to the terminator, which is the end: the feeder wrote it all */
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("feeder status %#x", status);
	if (out != q[0])
		close(out);
}

/* Whether the @n bytes of @fd at @at are the pattern the test wrote there. */
static bool holds_pattern(int fd, long long at, long long n, uint64_t *got, uint64_t *want)
{
	while (n > 0) {
		long long k = n < CHUNK ? n : CHUNK;

		if (pread(fd, got, k, at) != k)
			return false;
		fill(want, CHUNK, at);
		if (memcmp(got, want, k))
			return false;
		at += k;
		n -= k;
	}
	return true;
}

TEST_F_TIMEOUT(big, unlinked_256mib, 900)
{
	struct run map[MAX_RUNS], back[MAX_RUNS];
	struct verdict *v;
	struct ckpt_ck c;
	struct ckpt_rs r;
	struct stat st, rst, dir;
	char path[PATH_MAX], image[PATH_MAX], size_str[32];
	uint64_t *buf, *want;
	double t0, t1, t2, t3, t4;
	int fd, p[2], nmap, nback, status, copy, out;
	long long data = 0;	/* bytes of data by the file system's map */
	pid_t pid;

	/* the file: data runs, holes between them and at the end, unlinked, at FD0 */
	t0 = now();
	snprintf(path, sizeof(path), "%s/big", self->base);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(FD0, dup3(fd, FD0, O_CLOEXEC));
	close(fd);
	buf = malloc(CHUNK);
	ASSERT_NE(NULL, buf);
	for (size_t i = 0; i < sizeof(layout) / sizeof(layout[0]); i++) {
		for (long long at = layout[i].start; at < layout[i].end; at += CHUNK) {
			long long n = layout[i].end - at < CHUNK ? layout[i].end - at : CHUNK;

			fill(buf, CHUNK, at);
			ASSERT_EQ(n, pwrite(FD0, buf, n, at));
		}
	}
	free(buf);
	ASSERT_EQ(0, ftruncate(FD0, FILE_SIZE));
	ASSERT_EQ(0, unlink(path));
	ASSERT_EQ(12345, lseek(FD0, 12345, SEEK_SET));
	ASSERT_EQ(0, fstat(FD0, &st));
	ASSERT_EQ(FILE_SIZE, st.st_size);
	ASSERT_EQ(0U, st.st_nlink);
	nmap = data_map(FD0, st.st_size, map, MAX_RUNS);
	ASSERT_GE(nmap, 3) TH_LOG("the file system reports fewer runs than written: no holes?");
	t1 = now();

	for (int i = 0; i < nmap; i++)
		data += map[i].end - map[i].start;

	/* the default limit refuses it, by name, before anything is read */
	ASSERT_EQ(-1, checkpoint_into(self, open("/dev/null", O_WRONLY | O_CLOEXEC),
				      CKPT_CHECKPOINT_FILE_CONTENTS, &c));
	close(c.a.fd);
	ASSERT_EQ(EFBIG, c.err) CK_LOG(c);
	ASSERT_EQ((__u32)CKPT_REASON_TOO_LARGE, c.a.reason);
	ASSERT_EQ(FD0, c.a.err_fd);
	ASSERT_NE(NULL, strstr(c.log, "CKPT_CHECKPOINT_CONTENTS_UNLIMITED")) CK_LOG(c);
	snprintf(size_str, sizeof(size_str), "%lld bytes", data);
	ASSERT_NE(NULL, strstr(c.log, size_str)) CK_LOG(c);

	/* unlimited: streamed into a pipe, judged by a child as it arrives */
	signal(SIGPIPE, SIG_IGN);	/* a child that stops reading: EPIPE, and its verdict */
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	v = mmap(NULL, sizeof(*v), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, v);
	memset(v, 0, sizeof(*v));
	snprintf(image, sizeof(image), "%s.ckpt", self->base);
	copy = open(image, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_GE(copy, 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(p[1]);
		_exit(judge(p[0], copy, FD0, &st, map, nmap, v));
	}
	close(p[0]);
	close(copy);
	out = p[1];
	checkpoint_into(self, out, CKPT_CHECKPOINT_FILE_CONTENTS |
			CKPT_CHECKPOINT_CONTENTS_UNLIMITED, &c);
	close(out);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	t2 = now();
	EXPECT_EQ(0, c.rc) CK_LOG(c);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("the image does not hold the file as the file system has it: %s", v->why);
	ASSERT_EQ(0, c.rc);
	ASSERT_TRUE(v->done);
	ASSERT_EQ(data, v->data_bytes);
	ASSERT_EQ((long long)c.a.bytes, v->image_bytes);

	/* the original goes (its blocks freed); restart brings it back from a pipe */
	close(FD0);
	restart_through_pipe(_metadata, self, image, out, &r);
	t3 = now();
	ASSERT_EQ(0, r.rc) TH_LOG("%s", ckpt_rs_desc(&r));
	ASSERT_EQ(1U, r.a.nr_fds);
	ASSERT_EQ((long long)c.a.bytes, (long long)r.a.bytes);
	ASSERT_EQ(0, fstat(FD0, &rst)) TH_LOG("fd %d not restored", FD0);
	ASSERT_EQ(0, stat(self->base, &dir));
	EXPECT_EQ(dir.st_dev, rst.st_dev) TH_LOG("not recreated on the file system it was on");
	EXPECT_EQ(0U, rst.st_nlink);
	EXPECT_EQ(st.st_mode, rst.st_mode);
	EXPECT_EQ(st.st_size, rst.st_size);
	EXPECT_EQ(O_RDWR, fcntl(FD0, F_GETFL) & O_ACCMODE);
	EXPECT_EQ(FD_CLOEXEC, fcntl(FD0, F_GETFD));
	EXPECT_EQ(12345, lseek(FD0, 0, SEEK_CUR));
	nback = data_map(FD0, rst.st_size, back, MAX_RUNS);
	ASSERT_EQ(nmap, nback) TH_LOG("the restored file has %d runs of data, the original %d",
				      nback, nmap);
	for (int i = 0; i < nmap; i++) {
		ASSERT_EQ(map[i].start, back[i].start) TH_LOG("run %d", i);
		ASSERT_EQ(map[i].end, back[i].end) TH_LOG("run %d", i);
	}
	buf = malloc(CHUNK);
	want = malloc(CHUNK);
	ASSERT_TRUE(buf && want);
	/* what the test wrote (the map's runs may round it up to blocks) */
	for (size_t i = 0; i < sizeof(layout) / sizeof(layout[0]); i++) {
		ASSERT_TRUE(holds_pattern(FD0, layout[i].start, layout[i].end - layout[i].start,
					  buf, want))
			TH_LOG("[%lld, %lld): bytes differ from the pattern written",
			       layout[i].start, layout[i].end);
	}
	free(buf);
	free(want);
	t4 = now();
	TH_LOG("%s: %lld MiB file, %lld bytes of data in %d runs; write %.1f s, checkpoint and judge %.1f s, restart through a pipe %.1f s, verify %.1f s; image %lld bytes in %lld records",
	       variant->fs, (long long)FILE_SIZE / MiB, data, nmap, t1 - t0, t2 - t1, t3 - t2,
	       t4 - t3, v->image_bytes, v->records);
	munmap(v, sizeof(*v));
	close(FD0);
	unlink(image);
}

TEST_HARNESS_MAIN
