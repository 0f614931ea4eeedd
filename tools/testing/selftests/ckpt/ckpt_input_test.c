// SPDX-License-Identifier: GPL-2.0
/*
 * Every ioctl number and size, and the fds the ioctls take, against
 * Documentation/ioctl-abi.rst, checkpoint.rst and restart.rst: what
 * ckpt_ioctl_test, ckpt_env_test and ckpt_checkpoint_test do not already
 * cover. Every command number of the type byte in every direction; the
 * extensible-struct rules (short, long with a non-zero tail, long with a zero
 * tail that must come back zeroed, unreadable) for CKPT_IOC_CHECKPOINT and
 * CKPT_IOC_RESTART; restart's unknown flags; bad log buffers; and image and
 * output fds of every kind: closed, negative, O_PATH, opened for the wrong
 * direction, a directory, a device, an epoll fd, a pipe without reader. And
 * the bound of what restart holds in memory for a stream of tiny records.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/ckpt.h>

#include "kselftest_harness.h"
#include "ckpt_selftest.h"

#define SIZED(nr, size) _IOC(_IOC_READ | _IOC_WRITE, CKPT_IOC_MAGIC, (nr), (size))
#define MAX_EXT 128

FIXTURE(in) {
	int dev;
	char dir[64];
	int ext[MAX_EXT];
	int next;
};

FIXTURE_SETUP(in)
{
	self->dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_GE(self->dev, 0) TH_LOG("open /dev/ckpt: %s", strerror(errno));
	strcpy(self->dir, "/tmp/ckpt-input-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	signal(SIGPIPE, SIG_IGN);
	self->next = 0;
	for (int fd = 0; fd < 1024 && self->next < MAX_EXT; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			self->ext[self->next++] = fd;
}

FIXTURE_TEARDOWN(in)
{
	char cmd[128];

	close(self->dev);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	if (system(cmd))
		TH_LOG("cleanup failed");
}

/* ---- command numbers ---- */

TEST_F(in, every_command_number)
{
	static const unsigned int dirs[] = { _IOC_NONE, _IOC_READ, _IOC_WRITE,
					     _IOC_READ | _IOC_WRITE };
	static const unsigned int sizes[] = { 0, 8, 56, 64, 4096 };
	/* zero and large enough for every size: no ioctl reads past it */
	static uint8_t arg[4096];
	int accepted = 0;

	for (unsigned int nr = 0; nr < 256; nr++)
		for (unsigned int d = 0; d < 4; d++)
			for (unsigned int s = 0; s < 5; s++) {
				unsigned int cmd = _IOC(dirs[d], CKPT_IOC_MAGIC, nr, sizes[s]);
				bool known = nr <= 4 && dirs[d] == (_IOC_READ | _IOC_WRITE);
				int rc;

				/* restart and checkpoint read fd 0 otherwise: give them -1 */
				memset(arg, 0, sizeof(arg));
				if (known && (nr == 2 || nr == 3))
					((__s32 *)arg)[2] = -1;
				errno = 0;
				rc = ioctl(self->dev, cmd, arg);
				if (!known) {
					ASSERT_EQ(-1, rc) TH_LOG("cmd %#x accepted", cmd);
					ASSERT_EQ(ENOTTY, errno) TH_LOG("cmd %#x", cmd);
					continue;
				}
				/* a known command: sizes below VER0 are EINVAL */
				if (sizes[s] < 24 || (nr == 0 && sizes[s] < CKPT_VERSION_SIZE_VER0) ||
				    (nr == 2 && sizes[s] < CKPT_CHECKPOINT_SIZE_VER0) ||
				    (nr == 3 && sizes[s] < CKPT_RESTART_SIZE_VER0)) {
					ASSERT_EQ(-1, rc) TH_LOG("cmd %#x", cmd);
					ASSERT_EQ(EINVAL, errno) TH_LOG("cmd %#x", cmd);
					continue;
				}
				accepted++;
				/* VERSION and ENV succeed; the others fail on fd -1 */
				if (nr <= 1) {
					ASSERT_EQ(0, rc) TH_LOG("cmd %#x: %s", cmd, strerror(errno));
				} else if (nr == 4) {
					/* RESTART_COMMIT: no validated plan on this file */
					ASSERT_EQ(EINVAL, errno) TH_LOG("cmd %#x", cmd);
				} else {
					ASSERT_EQ(EBADF, errno) TH_LOG("cmd %#x", cmd);
				}
			}
	TH_LOG("%d of %d command numbers reached a handler", accepted, 256 * 4 * 5);
}

/* ---- extensible structs of checkpoint and restart ---- */

struct sized_case {
	unsigned int nr, size, ver0, known;
};

static const struct sized_case sized[] = {
	{ 2, sizeof(struct ckpt_checkpoint), CKPT_CHECKPOINT_SIZE_VER0,
	  sizeof(struct ckpt_checkpoint) },
	{ 3, sizeof(struct ckpt_restart), CKPT_RESTART_SIZE_VER0, sizeof(struct ckpt_restart) },
};

TEST_F(in, checkpoint_and_restart_struct_sizes)
{
	uint8_t buf[512];

	for (int i = 0; i < 2; i++) {
		const struct sized_case *c = &sized[i];
		/* the fd field of both structs is at offset 8 */
		__s32 *fd = (__s32 *)(buf + 8);

		for (unsigned int size = 0; size < c->ver0; size++) {
			memset(buf, 0, sizeof(buf));
			*fd = -1;
			ASSERT_EQ(-1, ioctl(self->dev, SIZED(c->nr, size), buf));
			ASSERT_EQ(EINVAL, errno) TH_LOG("nr %u size %u", c->nr, size);
		}
		/* a longer struct with a non-zero byte the module does not know */
		for (unsigned int at = c->known; at < c->known + 64; at += 5) {
			memset(buf, 0, sizeof(buf));
			*fd = -1;
			buf[at] = 0x80;
			ASSERT_EQ(-1, ioctl(self->dev, SIZED(c->nr, c->known + 64), buf));
			ASSERT_EQ(E2BIG, errno) TH_LOG("nr %u, byte %u", c->nr, at);
		}
		/* a zero tail is accepted (fails on fd -1) and written back zeroed */
		memset(buf, 0, sizeof(buf));
		memset(buf + c->known + 64, 0x5a, 64);
		*fd = -1;
		ASSERT_EQ(-1, ioctl(self->dev, SIZED(c->nr, c->known + 64), buf));
		ASSERT_EQ(EBADF, errno) TH_LOG("nr %u", c->nr);
		for (unsigned int at = c->known; at < c->known + 64; at++) {
			ASSERT_EQ(0, buf[at]);
		}
		for (unsigned int at = c->known + 64; at < c->known + 128; at++) {
			ASSERT_EQ(0x5a, buf[at]) TH_LOG("byte %u past the struct written", at);
		}
		/* the struct itself unreadable, or readable but not writable */
		ASSERT_EQ(-1, ioctl(self->dev, SIZED(c->nr, c->known), (void *)16));
		ASSERT_EQ(EFAULT, errno);
	}
}

TEST_F(in, read_only_struct_efault)
{
	struct ckpt_restart *r = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, r);
	r->fd = -1;
	ASSERT_EQ(0, mprotect(r, 4096, PROT_READ));
	/* fails on fd -1, then cannot report it */
	ASSERT_EQ(-1, ioctl(self->dev, CKPT_IOC_RESTART, r));
	ASSERT_EQ(EFAULT, errno);
	munmap(r, 4096);
}

/* ---- restart: flags, log, image fds ---- */

static int restart(int dev, int fd, __u64 flags, struct ckpt_restart *r, char *log, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->flags = flags;
	r->log_buf = (__u64)(unsigned long)log;
	r->log_size = len;
	return ioctl(dev, CKPT_IOC_RESTART, r);
}

TEST_F(in, restart_unknown_flags)
{
	struct ckpt_restart r;
	char log[256];
	int img = open("/dev/null", O_RDONLY | O_CLOEXEC);

	for (int bit = 0; bit < 64; bit++) {
		__u64 flag = 1ULL << bit;

		if (flag & (CKPT_RESTART_FLAGS_ALL | CKPT_RESTART_PROCESS_FLAGS))
			continue;
		log[0] = '\0';
		ASSERT_EQ(-1, restart(self->dev, img, flag, &r, log, sizeof(log)));
		ASSERT_EQ(EINVAL, errno) TH_LOG("flag bit %d", bit);
		ASSERT_EQ((__u32)CKPT_REASON_BAD_ARGUMENT, r.reason);
		ASSERT_NE(NULL, strstr(log, "unknown flags")) TH_LOG("log: %s", log);
		ASSERT_EQ(0ULL, r.bytes) TH_LOG("read the image despite bad flags");
	}
	close(img);
}

TEST_F(in, restart_bad_log_buffer)
{
	struct ckpt_restart r;
	char log[2] = { 'x', 'y' };

	/* a failure whose message cannot be written: EFAULT */
	ASSERT_EQ(-1, restart(self->dev, -1, 0, &r, (char *)16, 64));
	ASSERT_EQ(EFAULT, errno);
	/* log_size 0: nothing written, the real error */
	ASSERT_EQ(-1, restart(self->dev, -1, 0, &r, (char *)16, 0));
	ASSERT_EQ(EBADF, errno);
	/* a one-byte log gets only its NUL */
	ASSERT_EQ(-1, restart(self->dev, -1, 0, &r, log, 1));
	ASSERT_EQ(EBADF, errno);
	ASSERT_EQ('\0', log[0]);
	ASSERT_EQ('y', log[1]);
}

/* An image fd of some kind, and what restart must answer. */
struct kind {
	const char *what;
	int fd;
	int err;
	__u32 reason;
};

TEST_F(in, restart_image_fds_of_every_kind)
{
	char p[128], log[256];
	struct ckpt_restart r;
	int sv[2], pp[2], qq[2], n = 0;
	struct kind k[16];

	snprintf(p, sizeof(p), "%s/image", self->dir);
	ASSERT_EQ(0, close(open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)));
	k[n++] = (struct kind){ "closed fd", 999, EBADF, CKPT_REASON_BAD_ARGUMENT };
	k[n++] = (struct kind){ "negative fd", -5, EBADF, CKPT_REASON_BAD_ARGUMENT };
	k[n++] = (struct kind){ "O_WRONLY file", open(p, O_WRONLY | O_CLOEXEC), EBADF,
				CKPT_REASON_BAD_ARGUMENT };
	k[n++] = (struct kind){ "O_PATH file", open(p, O_PATH | O_CLOEXEC), EBADF,
				CKPT_REASON_BAD_ARGUMENT };
	k[n++] = (struct kind){ "empty file", open(p, O_RDONLY | O_CLOEXEC), EBADMSG,
				CKPT_REASON_BAD_IMAGE };
	/* kernel_read() reads only files with ->read_iter alone: the others are EINVAL */
	k[n++] = (struct kind){ "directory", open(self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC),
				EINVAL, CKPT_REASON_INPUT };
	k[n++] = (struct kind){ "/dev/null", open("/dev/null", O_RDONLY | O_CLOEXEC), EINVAL,
				CKPT_REASON_INPUT };
	k[n++] = (struct kind){ "/dev/zero", open("/dev/zero", O_RDONLY | O_CLOEXEC), EINVAL,
				CKPT_REASON_INPUT };
	k[n++] = (struct kind){ "epoll fd", epoll_create1(EPOLL_CLOEXEC), EINVAL,
				CKPT_REASON_INPUT };
	k[n++] = (struct kind){ "/dev/ckpt itself", self->dev, EINVAL, CKPT_REASON_INPUT };
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(5, write(sv[1], "junk!", 5));
	ASSERT_EQ(0, shutdown(sv[1], SHUT_WR));
	k[n++] = (struct kind){ "socket with junk", sv[0], EBADMSG, CKPT_REASON_BAD_IMAGE };
	ASSERT_EQ(0, pipe2(pp, O_CLOEXEC));
	/* its read end stays open (closed at the end) */
	k[n++] = (struct kind){ "pipe's write end", pp[1], EBADF, CKPT_REASON_BAD_ARGUMENT };
	ASSERT_EQ(0, pipe2(qq, O_CLOEXEC));
	close(qq[1]);
	k[n++] = (struct kind){ "pipe without writer", qq[0], EBADMSG, CKPT_REASON_BAD_IMAGE };

	for (int i = 0; i < n; i++) {
		if (k[i].fd < 0 && k[i].err != EBADF)
			ASSERT_GE(k[i].fd, 0) TH_LOG("%s: cannot open", k[i].what);
		log[0] = '\0';
		ASSERT_EQ(-1, restart(self->dev, k[i].fd, 0, &r, log, sizeof(log)))
			TH_LOG("%s accepted", k[i].what);
		EXPECT_EQ(k[i].err, errno) TH_LOG("%s: %s (%s)", k[i].what, strerror(errno), log);
		EXPECT_EQ(k[i].reason, r.reason) TH_LOG("%s: reason %u (%s)", k[i].what, r.reason,
							log);
		EXPECT_EQ(0U, r.nr_fds);
		EXPECT_EQ(-1, r.err_fd);
		EXPECT_NE('\0', log[0]) TH_LOG("%s: no message", k[i].what);
	}
	for (int i = 0; i < n; i++)
		if (k[i].fd > 2 && k[i].fd != self->dev && k[i].fd != 999)
			close(k[i].fd);
	close(sv[1]);
	close(pp[0]);
}

/* ---- checkpoint: output fds ---- */

static int checkpoint(FIXTURE_DATA(in) *self, int out, struct ckpt_checkpoint *c, char *log,
		      size_t len)
{
	memset(c, 0, sizeof(*c));
	c->fd = out;
	c->external_fds = (__u64)(unsigned long)self->ext;
	c->nr_external_fds = self->next;
	c->log_buf = (__u64)(unsigned long)log;
	c->log_size = len;
	return ioctl(self->dev, CKPT_IOC_CHECKPOINT, c);
}

TEST_F(in, checkpoint_output_fds_of_every_kind)
{
	char p[128], log[256];
	struct ckpt_checkpoint c;
	int pp[2], n = 0;
	struct kind k[16];

	snprintf(p, sizeof(p), "%s/out", self->dir);
	ASSERT_EQ(0, close(open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)));
	k[n++] = (struct kind){ "O_RDONLY file", open(p, O_RDONLY | O_CLOEXEC), EBADF,
				CKPT_REASON_BAD_ARGUMENT };
	k[n++] = (struct kind){ "O_PATH file", open(p, O_PATH | O_CLOEXEC), EBADF,
				CKPT_REASON_BAD_ARGUMENT };
	k[n++] = (struct kind){ "directory", open(self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC),
				EBADF, CKPT_REASON_BAD_ARGUMENT };
	/* kernel_write() writes only files with ->write_iter alone: the others are EINVAL */
	k[n++] = (struct kind){ "/dev/full", open("/dev/full", O_WRONLY | O_CLOEXEC), EINVAL,
				CKPT_REASON_OUTPUT };
	ASSERT_EQ(0, pipe2(pp, O_CLOEXEC));
	close(pp[0]);
	k[n++] = (struct kind){ "pipe without reader", pp[1], EPIPE, CKPT_REASON_OUTPUT };
	ASSERT_EQ(0, pipe2(pp, O_CLOEXEC));
	close(pp[1]);
	k[n++] = (struct kind){ "pipe's read end", pp[0], EBADF, CKPT_REASON_BAD_ARGUMENT };

	/* every one of them is open now: declare them external, they are not the point */
	for (int i = 0; i < n; i++) {
		ASSERT_GE(k[i].fd, 0) TH_LOG("%s: cannot open", k[i].what);
		self->ext[self->next++] = k[i].fd;
	}
	for (int i = 0; i < n; i++) {
		log[0] = '\0';
		ASSERT_EQ(-1, checkpoint(self, k[i].fd, &c, log, sizeof(log)))
			TH_LOG("%s accepted", k[i].what);
		EXPECT_EQ(k[i].err, errno) TH_LOG("%s: %s (%s)", k[i].what, strerror(errno), log);
		EXPECT_EQ(k[i].reason, c.reason) TH_LOG("%s: reason %u (%s)", k[i].what, c.reason,
							log);
		EXPECT_NE('\0', log[0]) TH_LOG("%s: no message", k[i].what);
	}
	for (int i = 0; i < n; i++)
		close(k[i].fd);
}

TEST_F(in, checkpoint_negative_pid_and_external_fd)
{
	struct ckpt_checkpoint c;
	char log[256];
	int out, neg[] = { -1 };
	char p[128];

	snprintf(p, sizeof(p), "%s/out", self->dir);
	out = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_GE(out, 0);
	self->ext[self->next++] = out;
	memset(&c, 0, sizeof(c));
	c.fd = out;
	c.pid = -1;
	c.external_fds = (__u64)(unsigned long)self->ext;
	c.nr_external_fds = self->next;
	ASSERT_EQ(-1, ioctl(self->dev, CKPT_IOC_CHECKPOINT, &c));
	ASSERT_EQ(EINVAL, errno);
	memset(&c, 0, sizeof(c));
	c.fd = out;
	c.external_fds = (__u64)(unsigned long)neg;
	c.nr_external_fds = 1;
	c.log_buf = (__u64)(unsigned long)log;
	c.log_size = sizeof(log);
	ASSERT_EQ(-1, ioctl(self->dev, CKPT_IOC_CHECKPOINT, &c));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ((__u32)CKPT_REASON_BAD_ARGUMENT, c.reason);
	ASSERT_NE(NULL, strstr(log, "negative")) TH_LOG("log: %s", log);
	close(out);
}

/* The device opened read-only or write-only answers as well: the node's mode is the gate. */
TEST_F(in, device_open_modes)
{
	static const int modes[] = { O_RDONLY, O_WRONLY };

	for (int i = 0; i < 2; i++) {
		struct ckpt_version v = { 0 };
		int dev = open("/dev/ckpt", modes[i] | O_CLOEXEC);

		ASSERT_GE(dev, 0);
		ASSERT_EQ(0, ioctl(dev, CKPT_IOC_VERSION, &v));
		ASSERT_EQ((__u32)CKPT_ABI_VERSION, v.abi_version);
		close(dev);
	}
}

/*
 * CKPT_RESTART_MAX_IMAGE bounds what restart holds in memory, the spool's list
 * of the PAGES and FILE_DATA records it left out of the image included, 40
 * bytes each (restart.rst, "Limits"): a stream of 1-byte FILE_DATA records
 * (33 bytes each in the image) is refused with EFBIG, reason too_large, before
 * it ends. Without that bound the list grew with the stream, to its end.
 */
#define TINY_RECORDS	(CKPT_RESTART_MAX_IMAGE / 40 + 65536)
#define TINY_LEN	(CKPT_RHDR_LEN + 17)

TEST_F_TIMEOUT(in, tiny_streamed_records_bounded, 600)
{
	struct ckpt_checkpoint c;
	struct ckpt_restart r;
	char log[512] = "";
	uint8_t *img, *rec;
	size_t prefix, total;
	uint64_t env_id;
	ssize_t got;
	int fd;

	fd = memfd_create("ckpt-tiny-records", MFD_CLOEXEC);
	ASSERT_GE(fd, 0);
	ASSERT_LT(self->next, MAX_EXT);
	self->ext[self->next++] = fd;	/* the image: not part of the checkpoint */
	ASSERT_EQ(0, checkpoint(self, fd, &c, log, sizeof(log))) TH_LOG("%s", log);
	/* the header and the environment vector, the first record */
	prefix = CKPT_HDR_LEN + CKPT_RHDR_LEN;
	img = malloc(prefix + (size_t)TINY_RECORDS * TINY_LEN);
	ASSERT_NE(NULL, img);
	ASSERT_EQ((ssize_t)prefix, pread(fd, img, prefix, 0));
	prefix = CKPT_HDR_LEN + ckpt_get32(img + CKPT_HDR_LEN + 4);
	env_id = ckpt_get64(img + CKPT_HDR_LEN + 8);
	ASSERT_EQ((ssize_t)prefix, pread(fd, img, prefix, 0));
	/* then FILE_DATA records of one byte each, of the record before them */
	rec = img + prefix;
	for (uint64_t i = 0; i < TINY_RECORDS; i++, rec += TINY_LEN) {
		ckpt_put16(rec, 0x0023);		/* FILE_DATA */
		ckpt_put16(rec + 2, 1);			/* critical, as defined */
		ckpt_put32(rec + 4, TINY_LEN);
		ckpt_put64(rec + 8, env_id + 1 + i);
		ckpt_put64(rec + 16, env_id);		/* an earlier record */
		ckpt_put64(rec + 24, i);		/* offset */
		rec[32] = 'x';
	}
	total = rec - img;
	ASSERT_EQ(0, ftruncate(fd, 0));
	got = pwrite(fd, img, total, 0);
	ASSERT_EQ((ssize_t)total, got);
	free(img);
	ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));

	memset(&r, 0, sizeof(r));
	r.fd = fd;
	r.log_buf = (__u64)(unsigned long)log;
	r.log_size = sizeof(log);
	ASSERT_EQ(-1, ioctl(self->dev, CKPT_IOC_RESTART, &r));
	ASSERT_EQ(EFBIG, errno) TH_LOG("%s", log);
	ASSERT_EQ((__u32)CKPT_REASON_TOO_LARGE, r.reason) TH_LOG("%s", log);
	ASSERT_NE(NULL, strstr(log, "40 bytes for each")) TH_LOG("%s", log);
	/* refused before the end: it did not read the whole stream */
	ASSERT_LT(lseek(fd, 0, SEEK_CUR), (off_t)(total - 32768 * TINY_LEN));
	close(fd);
}

TEST_HARNESS_MAIN
