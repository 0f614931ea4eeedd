// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctl ABI of /dev/ckpt: CKPT_IOC_VERSION, unknown commands and the
 * extensible-struct size rules (see include/uapi/linux/ckpt.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/ckpt.h>

#include "kselftest_harness.h"

/* CKPT_IOC_VERSION as built by user space whose struct is `size` bytes. */
#define CKPT_IOC_VERSION_SIZED(size) \
	_IOC(_IOC_READ | _IOC_WRITE, CKPT_IOC_MAGIC, 0x00, (size))

FIXTURE(dev) {
	int fd;
};

FIXTURE_SETUP(dev)
{
	self->fd = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_GE(self->fd, 0) TH_LOG("open /dev/ckpt: %s (is ckpt.ko loaded?)", strerror(errno));
}

FIXTURE_TEARDOWN(dev)
{
	close(self->fd);
}

static void assert_sane_version(struct __test_metadata *_metadata,
				const struct ckpt_version *v)
{
	ASSERT_EQ((__u32)CKPT_ABI_VERSION, v->abi_version);
	ASSERT_GE(v->image_version, 1U);
	ASSERT_LE(v->image_version_min, v->image_version);
	ASSERT_GE(v->image_version_max, v->image_version);
	ASSERT_NE(NULL, memchr(v->module_version, '\0', sizeof(v->module_version)));
	ASSERT_GT(strlen(v->module_version), 0UL);
}

TEST_F(dev, version)
{
	struct ckpt_version v;

	memset(&v, 0xa5, sizeof(v));
	v.flags = 0;
	ASSERT_EQ(0, ioctl(self->fd, CKPT_IOC_VERSION, &v));
	assert_sane_version(_metadata, &v);
	TH_LOG("module %s, abi %u, image v%u (reads v%u..v%u)", v.module_version,
	       v.abi_version, v.image_version, v.image_version_min, v.image_version_max);
}

TEST_F(dev, version_nonzero_flags_einval)
{
	struct ckpt_version v = { .flags = 1 };

	ASSERT_EQ(-1, ioctl(self->fd, CKPT_IOC_VERSION, &v));
	ASSERT_EQ(EINVAL, errno);
}

TEST_F(dev, version_bad_pointer_efault)
{
	ASSERT_EQ(-1, ioctl(self->fd, CKPT_IOC_VERSION, (void *)8));
	ASSERT_EQ(EFAULT, errno);
}

TEST_F(dev, unknown_ioctl_enotty)
{
	struct ckpt_version v = { 0 };

	/* an unused number in our type */
	ASSERT_EQ(-1, ioctl(self->fd, _IOWR(CKPT_IOC_MAGIC, 0x7f, struct ckpt_version), &v));
	ASSERT_EQ(ENOTTY, errno);
	/* our number, another type */
	ASSERT_EQ(-1, ioctl(self->fd, _IOWR('x', 0x00, struct ckpt_version), &v));
	ASSERT_EQ(ENOTTY, errno);
	/* our number and type, other direction */
	ASSERT_EQ(-1, ioctl(self->fd, _IOR(CKPT_IOC_MAGIC, 0x00, struct ckpt_version), &v));
	ASSERT_EQ(ENOTTY, errno);
	/* a classic tty ioctl */
	ASSERT_EQ(-1, ioctl(self->fd, TCGETS, &v));
	ASSERT_EQ(ENOTTY, errno);
}

TEST_F(dev, short_struct_einval)
{
	struct ckpt_version v = { 0 };
	unsigned int size;

	for (size = 0; size < CKPT_VERSION_SIZE_VER0; size++) {
		errno = 0;
		ASSERT_EQ(-1, ioctl(self->fd, CKPT_IOC_VERSION_SIZED(size), &v))
			TH_LOG("size %u accepted", size);
		ASSERT_EQ(EINVAL, errno) TH_LOG("size %u", size);
	}
}

TEST_F(dev, larger_struct_zero_tail_ok)
{
	/* user space from the future: a larger struct whose new fields are zero */
	struct {
		struct ckpt_version v;
		uint8_t tail[200];
	} big;

	/*
	 * The fields the module writes are poisoned, the 100 tail bytes passed
	 * must be zero on input (else E2BIG), the rest is poisoned too.
	 */
	memset(&big, 0xa5, sizeof(big));
	big.v.flags = 0;
	memset(big.tail, 0, 100);
	memset(big.tail + 100, 0x5a, 100);
	ASSERT_EQ(0, ioctl(self->fd, CKPT_IOC_VERSION_SIZED(sizeof(big.v) + 100), &big));
	assert_sane_version(_metadata, &big.v);
	/* the tail is still zero and nothing beyond the passed size is touched */
	for (int i = 0; i < 100; i++)
		ASSERT_EQ(0, big.tail[i]);
	for (int i = 100; i < 200; i++) {
		ASSERT_EQ(0x5a, big.tail[i]) TH_LOG("byte %d past the struct written", i);
	}
}

/*
 * "On output the module zeroes the rest of the user's struct": the input tail
 * must already be zero, so its value cannot tell whether it was written. A
 * read-only page can: the tail is read (it is zero), then written back, which
 * faults. A module that did not write the tail would succeed here.
 */
TEST_F(dev, larger_struct_tail_is_written_back)
{
	long page = sysconf(_SC_PAGESIZE);
	struct ckpt_version *v;
	uint8_t *map;

	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	memset(map, 0, 2 * page);
	/* the struct ends where the second page begins; its 64-byte tail is on that page */
	v = (struct ckpt_version *)(map + page - sizeof(*v));
	ASSERT_EQ(0, mprotect(map + page, page, PROT_READ));
	errno = 0;
	ASSERT_EQ(-1, ioctl(self->fd, CKPT_IOC_VERSION_SIZED(sizeof(*v) + 64), v))
		TH_LOG("the module did not write the struct's tail back");
	ASSERT_EQ(EFAULT, errno);
	/* and with the tail writable, the same call succeeds */
	ASSERT_EQ(0, mprotect(map + page, page, PROT_READ | PROT_WRITE));
	ASSERT_EQ(0, ioctl(self->fd, CKPT_IOC_VERSION_SIZED(sizeof(*v) + 64), v));
	assert_sane_version(_metadata, v);
	munmap(map, 2 * page);
}

TEST_F(dev, larger_struct_nonzero_tail_e2big)
{
	struct {
		struct ckpt_version v;
		uint8_t tail[64];
	} big;

	for (unsigned int at = 0; at < sizeof(big.tail); at += 7) {
		memset(&big, 0, sizeof(big));
		big.tail[at] = 1;
		errno = 0;
		ASSERT_EQ(-1, ioctl(self->fd, CKPT_IOC_VERSION_SIZED(sizeof(big)), &big));
		ASSERT_EQ(E2BIG, errno) TH_LOG("nonzero byte at tail offset %u", at);
	}
}

TEST_F(dev, huge_size_zero_tail_ok)
{
	/* the largest size _IOC can carry (16 KiB - 1), all zero */
	static uint8_t buf[(1 << _IOC_SIZEBITS) - 1];

	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(0, ioctl(self->fd, CKPT_IOC_VERSION_SIZED(sizeof(buf)), buf));
	assert_sane_version(_metadata, (struct ckpt_version *)buf);
}

TEST_HARNESS_MAIN
