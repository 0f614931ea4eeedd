// SPDX-License-Identifier: GPL-2.0
/*
 * CKPT_IOC_ENV: the running kernel's environment vector (see
 * include/uapi/linux/ckpt.h and Documentation/ioctl-abi.rst). Size query,
 * exact and too-small buffers, the extensible-struct rules, and enough of
 * the payload (Documentation/image-format.rst, "Environment vector") to see
 * that it is well formed and deterministic.
 */
#include <cpuid.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
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
#define KEY_PAGE_SIZE		0x00000002u
#define KEY_KERNEL_RELEASE	0x00000003u
#define KEY_KERNEL_VERSION	0x00000004u
#define KEY_CPU_FAMILY		0x00010002u
#define KEY_CPU_MODEL		0x00010003u
#define KEY_CPU_STEPPING	0x00010004u
#define KEY_XSAVE_FEATURES	0x00010011u
#define KEY_XSAVE_SIZE		0x00010012u
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

/* The value of @key in the vector @buf (@len bytes), its length in @vlen; NULL if absent. */
static const uint8_t *env_find(const uint8_t *buf, uint32_t len, uint32_t key, uint32_t *vlen)
{
	uint32_t count = le32(buf), off = PAYLOAD_HEADER_LEN, i;

	for (i = 0; i < count && off + ENTRY_HEADER_LEN <= len; i++) {
		*vlen = le32(buf + off + 8);
		if (le32(buf + off) == key)
			return off + ENTRY_HEADER_LEN + *vlen <= len ? buf + off + ENTRY_HEADER_LEN : NULL;
		off += ENTRY_HEADER_LEN + *vlen;
	}
	return NULL;
}

/* The value of "@name<tabs>: value" in /proc/cpuinfo (the first CPU's), or NULL. */
static char *cpuinfo(const char *name, char *out, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	static char line[8192];
	size_t n = strlen(name);
	char *v = NULL;

	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, n))
			continue;
		v = line + n + strspn(line + n, " \t");
		if (*v != ':') {	/* "model name" is not "model" */
			v = NULL;
			continue;
		}
		v += 1 + (v[1] == ' ');
		v[strcspn(v, "\n")] = '\0';
		snprintf(out, len, "%s", v);
		v = out;
		break;
	}
	fclose(f);
	return v;
}

static bool has_flag(const char *flags, const char *name)
{
	size_t n = strlen(name);
	const char *p = flags;

	while ((p = strstr(p, name))) {
		if ((p == flags || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return lo | (uint64_t)hi << 32;
}

/*
 * The vector against what user space sees of the same machine, not against
 * the ioctl itself: uname(2), sysconf, /proc/cpuinfo (vendor, family, model,
 * stepping, and the named flags of capability words 0 and 4, which it prints
 * from the same x86_capability bits), CPUID and XGETBV.
 */
TEST_F(env, agrees_with_uname_cpuinfo_and_cpuid)
{
	/* names of the CPUID.1:EDX (word 0) and CPUID.1:ECX (word 4) bits /proc/cpuinfo prints */
	static const char *const word0[32] = {
		"fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "cx8", "apic", NULL, "sep",
		"mtrr", "pge", "mca", "cmov", "pat", "pse36", "pn", "clflush", NULL, "dts", "acpi",
		"mmx", "fxsr", "sse", "sse2", "ss", "ht", "tm", "ia64", "pbe" };
	static const char *const word4[32] = {
		"pni", "pclmulqdq", "dtes64", "monitor", "ds_cpl", "vmx", "smx", "est", "tm2",
		"ssse3", "cid", "sdbg", "fma", "cx16", "xtpr", "pdcm", NULL, "pcid", "dca", "sse4_1",
		"sse4_2", "x2apic", "movbe", "popcnt", "tsc_deadline_timer", "aes", "xsave", NULL,
		"avx", "f16c", "rdrand", "hypervisor" };
	uint32_t len, vlen, a, b, c, d, w0, w4;
	static char flags[8192];
	const uint8_t *v;
	char text[256];
	struct utsname u;
	uint8_t *buf = env_fetch(_metadata, self->fd, &len);
	int bit;

	ASSERT_EQ(0, uname(&u));
	v = env_find(buf, len, KEY_KERNEL_RELEASE, &vlen);
	ASSERT_NE(NULL, v);
	ASSERT_EQ(strlen(u.release), vlen);
	ASSERT_EQ(0, memcmp(v, u.release, vlen));
	v = env_find(buf, len, KEY_KERNEL_VERSION, &vlen);
	ASSERT_NE(NULL, v);
	ASSERT_EQ(strlen(u.version), vlen);
	ASSERT_EQ(0, memcmp(v, u.version, vlen));
	v = env_find(buf, len, KEY_PAGE_SIZE, &vlen);
	ASSERT_TRUE(v && vlen == 4);
	ASSERT_EQ((uint32_t)sysconf(_SC_PAGESIZE), le32(v));

	ASSERT_NE(NULL, cpuinfo("vendor_id", text, sizeof(text)));
	v = env_find(buf, len, KEY_CPU_VENDOR, &vlen);
	ASSERT_NE(NULL, v);
	ASSERT_EQ(strlen(text), vlen);
	ASSERT_EQ(0, memcmp(v, text, vlen)) TH_LOG("cpu_vendor vs /proc/cpuinfo %s", text);
	{
		static const struct { const char *name; uint32_t key; } ids[] = {
			{ "cpu family", KEY_CPU_FAMILY }, { "model", KEY_CPU_MODEL },
			{ "stepping", KEY_CPU_STEPPING } };

		for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
			ASSERT_NE(NULL, cpuinfo(ids[i].name, text, sizeof(text)));
			v = env_find(buf, len, ids[i].key, &vlen);
			ASSERT_TRUE(v && vlen == 4);
			ASSERT_EQ(strtoul(text, NULL, 10), le32(v)) {
				TH_LOG("%s: /proc/cpuinfo %s", ids[i].name, text);
			}
		}
	}

	ASSERT_NE(NULL, cpuinfo("flags", flags, sizeof(flags)));
	v = env_find(buf, len, KEY_X86_CAPABILITY, &vlen);
	ASSERT_TRUE(v && vlen >= 5 * 4);
	w0 = le32(v);
	w4 = le32(v + 16);
	for (bit = 0; bit < 32; bit++) {
		if (word0[bit]) {
			ASSERT_EQ(!!(w0 & 1U << bit), has_flag(flags, word0[bit]))
				TH_LOG("word 0 bit %d (%s) vs /proc/cpuinfo", bit, word0[bit]);
		}
		if (word4[bit]) {
			ASSERT_EQ(!!(w4 & 1U << bit), has_flag(flags, word4[bit]))
				TH_LOG("word 4 bit %d (%s) vs /proc/cpuinfo", bit, word4[bit]);
		}
	}
	/* the kernel may clear CPUID bits it does not use, never add any */
	ASSERT_TRUE(__get_cpuid(1, &a, &b, &c, &d));
	ASSERT_EQ(0U, w0 & ~d) TH_LOG("word 0 %#x, CPUID.1:EDX %#x", w0, d);
	ASSERT_EQ(0U, w4 & ~c) TH_LOG("word 4 %#x, CPUID.1:ECX %#x", w4, c);

	/* XCR0 and the XSAVE area size, as user space reads them */
	v = env_find(buf, len, KEY_XSAVE_FEATURES, &vlen);
	ASSERT_TRUE(v && vlen == 8);
	if (c & bit_OSXSAVE) {
		uint64_t xcr0 = xgetbv0();

		ASSERT_EQ(xcr0, le32(v) | (uint64_t)le32(v + 4) << 32);
		__cpuid_count(0xd, 0, a, b, c, d);
		v = env_find(buf, len, KEY_XSAVE_SIZE, &vlen);
		ASSERT_TRUE(v && vlen == 4);
		ASSERT_EQ(b, le32(v)) TH_LOG("CPUID.(0xd,0).EBX vs xsave_size");
	} else {
		ASSERT_EQ(3ULL, le32(v) | (uint64_t)le32(v + 4) << 32);
	}
	free(buf);
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
