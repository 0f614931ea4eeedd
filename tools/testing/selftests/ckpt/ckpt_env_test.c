// SPDX-License-Identifier: GPL-2.0
/*
 * CKPT_IOC_ENV: the running kernel's environment vector (see
 * include/uapi/linux/ckpt.h and Documentation/ioctl-abi.rst). Size query,
 * exact and too-small buffers, the extensible-struct rules, and enough of
 * the payload (Documentation/image-format.rst, "Environment vector") to see
 * that it is well formed and deterministic.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/ckpt.h>

#include "kselftest_harness.h"

/* CKPT_IOC_ENV as built by user space whose struct is `size` bytes. */
#define CKPT_IOC_ENV_SIZED(size) \
	_IOC(_IOC_READ | _IOC_WRITE, CKPT_IOC_MAGIC, 0x01, (size))

/* Vector payload: __le32 count, __le32 reserved, then entries. */
#define PAYLOAD_HEADER_LEN	8
/* Entry: __le32 key, u8 type, u8 rule, __le16 flags, __le32 len, value. */
#define ENTRY_HEADER_LEN	12
#define KEY_ARCH		0x00000001u
#define KEY_CPU_VENDOR		0x00010001u
#define KEY_X86_CAPABILITY	0x00010010u
#define TYPE_BITMAP32		5
#define RULE_SUBSET		2

FIXTURE(env) {
	int fd;
};

FIXTURE_SETUP(env)
{
	self->fd = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_GE(self->fd, 0) TH_LOG("open /dev/ckpt: %s (is ckpt.ko loaded?)", strerror(errno));
}

FIXTURE_TEARDOWN(env)
{
	close(self->fd);
}

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The size of the vector, from a size query. */
static uint32_t env_len(struct __test_metadata *_metadata, int fd)
{
	struct ckpt_env e = { 0 };

	e.len = 0xdeadbeef;
	ASSERT_EQ(0, ioctl(fd, CKPT_IOC_ENV, &e)) TH_LOG("size query: %s", strerror(errno));
	ASSERT_GE(e.len, (__u32)PAYLOAD_HEADER_LEN);
	ASSERT_NE(0xdeadbeef, e.len);
	return e.len;
}

/* Fetches the vector into a new buffer of exactly its size. */
static uint8_t *env_fetch(struct __test_metadata *_metadata, int fd, uint32_t *len)
{
	struct ckpt_env e = { 0 };
	uint8_t *buf;

	*len = env_len(_metadata, fd);
	buf = malloc(*len);
	ASSERT_NE(NULL, buf);
	e.buf = (uintptr_t)buf;
	e.buf_size = *len;
	ASSERT_EQ(0, ioctl(fd, CKPT_IOC_ENV, &e)) TH_LOG("fetch: %s", strerror(errno));
	ASSERT_EQ(*len, e.len);
	return buf;
}

TEST_F(env, size_query)
{
	TH_LOG("environment vector: %u bytes", env_len(_metadata, self->fd));
}

TEST_F(env, exact_buffer_is_a_well_formed_vector)
{
	uint32_t len, count, off, key, last = 0, vlen, i;
	bool arch = false, vendor = false, caps = false;
	uint8_t *buf = env_fetch(_metadata, self->fd, &len);

	count = le32(buf);
	ASSERT_GT(count, 0U);
	ASSERT_LE(count, 4096U);
	ASSERT_EQ(0U, le32(buf + 4)) TH_LOG("reserved word");
	off = PAYLOAD_HEADER_LEN;
	for (i = 0; i < count; i++) {
		ASSERT_LE(off + ENTRY_HEADER_LEN, len) TH_LOG("entry %u header past the end", i);
		key = le32(buf + off);
		vlen = le32(buf + off + 8);
		ASSERT_GT(key, last) TH_LOG("entry %u: key %#x after %#x", i, key, last);
		ASSERT_LE(vlen, 4096U);
		ASSERT_LE(off + ENTRY_HEADER_LEN + vlen, len) TH_LOG("entry %u value", i);
		if (key == KEY_ARCH)
			arch = true;
		if (key == KEY_CPU_VENDOR)
			vendor = vlen > 0;
		if (key == KEY_X86_CAPABILITY) {
			caps = buf[off + 4] == TYPE_BITMAP32 && buf[off + 5] == RULE_SUBSET &&
			       vlen > 0 && vlen % 4 == 0;
		}
		last = key;
		off += ENTRY_HEADER_LEN + vlen;
	}
	ASSERT_EQ(len, off) TH_LOG("bytes after the last entry");
	ASSERT_TRUE(arch);
	ASSERT_TRUE(vendor);
	ASSERT_TRUE(caps);
	TH_LOG("%u entries", count);
	free(buf);
}

TEST_F(env, deterministic)
{
	uint32_t len1, len2;
	uint8_t *a = env_fetch(_metadata, self->fd, &len1);
	uint8_t *b = env_fetch(_metadata, self->fd, &len2);

	ASSERT_EQ(len1, len2);
	ASSERT_EQ(0, memcmp(a, b, len1));
	free(a);
	free(b);
}

TEST_F(env, larger_buffer_ok_tail_untouched)
{
	uint32_t len = env_len(_metadata, self->fd);
	struct ckpt_env e = { 0 };
	uint8_t *buf = malloc(len + 64);
	uint32_t i;

	ASSERT_NE(NULL, buf);
	memset(buf, 0x5a, len + 64);
	e.buf = (uintptr_t)buf;
	e.buf_size = len + 64;
	ASSERT_EQ(0, ioctl(self->fd, CKPT_IOC_ENV, &e));
	ASSERT_EQ(len, e.len);
	for (i = len; i < len + 64; i++) {
		ASSERT_EQ(0x5a, buf[i]) TH_LOG("byte %u past the vector written", i);
	}
	free(buf);
}

TEST_F(env, too_small_buffer_enospc_len_set_buffer_untouched)
{
	uint32_t len = env_len(_metadata, self->fd);
	uint32_t sizes[] = { 1, PAYLOAD_HEADER_LEN, len - 1 };
	uint8_t *buf = malloc(len);
	unsigned int i;
	uint32_t j;

	ASSERT_NE(NULL, buf);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		struct ckpt_env e = { 0 };

		memset(buf, 0xa5, len);
		e.buf = (uintptr_t)buf;
		e.buf_size = sizes[i];
		errno = 0;
		ASSERT_EQ(-1, ioctl(self->fd, CKPT_IOC_ENV, &e)) TH_LOG("buf_size %u", sizes[i]);
		ASSERT_EQ(ENOSPC, errno);
		ASSERT_EQ(len, e.len) TH_LOG("len not reported with ENOSPC");
		for (j = 0; j < len; j++) {
			ASSERT_EQ(0xa5, buf[j]) TH_LOG("buf_size %u: byte %u written", sizes[i], j);
		}
	}
	free(buf);
}

TEST_F(env, size_zero_with_buffer_enospc)
{
	uint8_t byte = 0xa5;
	struct ckpt_env e = { .buf = (uintptr_t)&byte, .buf_size = 0 };

	ASSERT_EQ(-1, ioctl(self->fd, CKPT_IOC_ENV, &e));
	ASSERT_EQ(ENOSPC, errno);
	ASSERT_GE(e.len, (__u32)PAYLOAD_HEADER_LEN);
	ASSERT_EQ(0xa5, byte);
}

TEST_F(env, nonzero_flags_einval)
{
	for (int bit = 0; bit < 64; bit += 9) {
		struct ckpt_env e = { .flags = 1ULL << bit };

		errno = 0;
		ASSERT_EQ(-1, ioctl(self->fd, CKPT_IOC_ENV, &e)) TH_LOG("flag bit %d", bit);
		ASSERT_EQ(EINVAL, errno);
	}
}

TEST_F(env, short_struct_einval)
{
	struct ckpt_env e = { 0 };

	for (unsigned int size = 0; size < CKPT_ENV_SIZE_VER0; size++) {
		errno = 0;
		ASSERT_EQ(-1, ioctl(self->fd, CKPT_IOC_ENV_SIZED(size), &e)) TH_LOG("size %u", size);
		ASSERT_EQ(EINVAL, errno) TH_LOG("size %u", size);
	}
}

TEST_F(env, larger_struct_rules)
{
	struct {
		struct ckpt_env e;
		uint8_t tail[32];
	} big;

	memset(&big, 0, sizeof(big));
	ASSERT_EQ(0, ioctl(self->fd, CKPT_IOC_ENV_SIZED(sizeof(big)), &big));
	ASSERT_GE(big.e.len, (__u32)PAYLOAD_HEADER_LEN);
	memset(&big, 0, sizeof(big));
	big.tail[5] = 1;
	ASSERT_EQ(-1, ioctl(self->fd, CKPT_IOC_ENV_SIZED(sizeof(big)), &big));
	ASSERT_EQ(E2BIG, errno);
}

TEST_F(env, bad_pointers_efault)
{
	struct ckpt_env e = { .buf = 8, .buf_size = 4096 };

	ASSERT_EQ(-1, ioctl(self->fd, CKPT_IOC_ENV, (void *)8));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ(-1, ioctl(self->fd, CKPT_IOC_ENV, &e));
	ASSERT_EQ(EFAULT, errno);
}

TEST_HARNESS_MAIN
