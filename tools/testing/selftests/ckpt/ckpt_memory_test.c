// SPDX-License-Identifier: GPL-2.0
/*
 * CKPT_IOC_CHECKPOINT with CKPT_CHECKPOINT_PROCESS: the mm, vma and pages
 * records of a stopped tracee, checked against what the kernel reports
 * elsewhere: /proc/PID/maps (ranges, protection, offsets, kinds, files),
 * /proc/PID/pagemap (which pages are present, anonymous, the zero page),
 * /proc/PID/mem (page contents, byte for byte), /proc/PID/stat and
 * /proc/PID/auxv (the mm record). The image is parsed here from the spec
 * (Documentation/image-format.rst), not with the codec under test.
 *
 * The target is this very program, statically linked and copied onto a
 * tmpfs (so that its one mapped file has a checkpoint implementation),
 * re-executed with "--child FD SCENARIO DIR": it builds its memory, reports
 * the addresses through FD and waits to be stopped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <elf.h>
#include <linux/ckpt.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <time.h>

#include "kselftest_harness.h"
#include "ckpt_selftest.h"

#define PAGE 4096UL
#define MIB (1UL << 20)
#define BIG_LEN (256 * MIB)
#define HEADER_LEN 304

/* What the child reports. */
struct child_info {
	uint64_t big, zero_probe, zero_filled, priv, shared, protnone, brk, uffd_area;
	int uffd, avx;
};

/* Register patterns the "regs" child loads into xmm7 and ymm8 */
static const uint8_t XMM7[16] = "ckpt xmm7 value";
static const uint8_t YMM8[32] = "ckpt ymm8: upper half is here!";

/* ---- the child ---- */

static void fill(char *p, size_t len, int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (char)(seed * 31 + i * 7 + 1);
}

static char *map_file(const char *dir, const char *name, int pages, int flags)
{
	char path[PATH_MAX], buf[PAGE];
	char *p;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		exit(10);
	for (int i = 0; i < pages; i++) {
		memset(buf, 'A' + i, sizeof(buf));
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			exit(11);
	}
	p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (p == MAP_FAILED)
		exit(12);
	close(fd);
	return p;
}

static void setup_map(const char *dir, struct child_info *info)
{
	volatile char sink;
	char *big, *zp, *zf, *priv, *shared, *pn, *heap;

	/* 256 MiB mapped, 1 MiB touched: 192 consecutive pages and 64 scattered ones */
	big = mmap(NULL, BIG_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	if (big == MAP_FAILED)
		exit(20);
	for (int i = 0; i < 192; i++)
		fill(big + i * PAGE, PAGE, i);
	for (int k = 0; k < 64; k++)
		fill(big + (k + 1) * 3 * MIB + 2 * PAGE, PAGE, 1000 + k);
	info->big = (uintptr_t)big;

	/* page 0 read only (the zero page), page 1 never touched (a hole) */
	zp = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	sink = zp[0];
	(void)sink;
	info->zero_probe = (uintptr_t)zp;

	/* a page written with zeros is a real page: it is in the image */
	zf = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(zf, 0, PAGE);
	info->zero_filled = (uintptr_t)zf;

	/* private file mapping: 4 pages read, page 1 written (copied on write) */
	priv = map_file(dir, "private", 4, MAP_PRIVATE);
	for (int i = 0; i < 4; i++)
		sink = priv[i * PAGE];
	priv[PAGE + 5] = 'Z';
	info->priv = (uintptr_t)priv;

	/* shared file mapping: written, still nothing in the image */
	shared = map_file(dir, "shared", 2, MAP_SHARED);
	shared[7] = 'S';
	info->shared = (uintptr_t)shared;

	/* content behind PROT_NONE */
	pn = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(pn, 0x77, PAGE);
	mprotect(pn, 2 * PAGE, PROT_NONE);
	info->protnone = (uintptr_t)pn;

	/* the heap */
	heap = sbrk(0);
	if (sbrk(3 * PAGE) == (void *)-1)
		exit(21);
	fill(heap, 3 * PAGE, 77);
	info->brk = (uintptr_t)sbrk(0);
}

static int child_main(char **argv)
{
	const char *what = argv[3], *dir = argv[4];
	struct child_info info = { .uffd = -1 };
	int ready = atoi(argv[2]);

	ckpt_unmap_harness_pages();

	if (!strcmp(what, "map")) {
		setup_map(dir, &info);
	} else if (!strcmp(what, "shared_anon")) {
		char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

		p[0] = 1;
	} else if (!strcmp(what, "sysv")) {
		int id = shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0600);
		char *p = shmat(id, NULL, 0);

		if (p == (void *)-1)
			exit(30);
		p[0] = 1;
		shmctl(id, IPC_RMID, NULL);
	} else if (!strcmp(what, "uffd")) {
		struct uffdio_api api = { .api = UFFD_API };
		struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
		char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		info.uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
		if (info.uffd < 0 || ioctl(info.uffd, UFFDIO_API, &api))
			exit(40);
		reg.range.start = (uintptr_t)p;
		reg.range.len = PAGE;
		if (ioctl(info.uffd, UFFDIO_REGISTER, &reg))
			exit(41);
		info.uffd_area = (uintptr_t)p;
	} else if (!strcmp(what, "seccomp")) {
		struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
		struct sock_fprog prog = { .len = 1, .filter = &allow };

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
			exit(50);
	} else if (!strcmp(what, "itimer")) {
		struct itimerval it = { .it_value = { .tv_sec = 1000 } };

		if (setitimer(ITIMER_REAL, &it, NULL))
			exit(51);
	} else if (!strcmp(what, "posix_timer")) {
		timer_t t;

		if (syscall(__NR_timer_create, CLOCK_MONOTONIC, NULL, &t))
			exit(52);
	} else if (!strcmp(what, "io_uring")) {
		char params[120] = { 0 };	/* struct io_uring_params, not armed */

		info.uffd = syscall(__NR_io_uring_setup, 1, params);
		if (info.uffd < 0)
			exit(53);
	}
	if (!strcmp(what, "regs"))
		info.avx = __builtin_cpu_supports("avx");
	if (write(ready, &info, sizeof(info)) != sizeof(info))
		return 1;
	close(ready);
	if (!strcmp(what, "regs")) {
		/* load the registers, then pause(2) with nothing in between that may use them */
		if (info.avx)
			asm volatile("vmovdqu %0, %%ymm8" : : "m"(YMM8) : "xmm8");
		asm volatile("movdqu %0, %%xmm7\n"
			     "1: mov $34, %%eax\n"	/* SYS_pause */
			     "syscall\n"
			     "jmp 1b\n"
			     : : "m"(XMM7) : "rax", "rcx", "r11", "xmm7", "memory");
	}
	for (;;)
		pause();
}

/* ---- the image, parsed from the spec ---- */

static uint32_t crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
	}
	return ~crc;
}

struct vma_rec {
	uint64_t id, start, end, offset, file;
	uint32_t prot, flags;
	uint16_t kind;
	uint64_t pages;
};

struct page_rec {
	uint64_t vma, start;
	uint32_t count, crc;
	const uint8_t *data;
};

struct file_rec {
	uint64_t id, ino;
};

struct regset_rec {
	uint32_t note, len;
	const uint8_t *data;
};

struct image {
	uint8_t *buf;
	size_t len;
	const uint8_t *mm;	/* payload */
	uint32_t mm_len;
	struct vma_rec vma[512];
	int nvma;
	struct page_rec *pages;
	int npages;
	struct file_rec files[64];
	int nfiles;
	struct regset_rec regs[8];
	int nregs;
	uint64_t total_pages;
};

/* Splits the image into records; returns an error message or NULL. */
static const char *parse_image(struct image *im)
{
	size_t at = HEADER_LEN;

	im->pages = calloc(65536, sizeof(*im->pages));
	while (at + 16 <= im->len) {
		const uint8_t *r = im->buf + at;
		uint16_t type = r[0] | r[1] << 8, flags = r[2] | r[3] << 8;
		uint32_t len = ckpt_get32(r + 4);
		uint64_t id = ckpt_get64(r + 8);
		const uint8_t *p = r + 16;

		if (len < 16 || at + len > im->len)
			return "record runs past the image";
		if (type == 1)
			return at + len == im->len ? NULL : "bytes after the terminator";
		if (type >= 0x30 && type <= 0x32 && flags != 0)
			return "memory record with flags other than 0";
		if (type == 0x21) {
			im->files[im->nfiles].id = id;
			im->files[im->nfiles++].ino = ckpt_get64(p + 32);
		} else if (type == 0x11) {
			struct regset_rec *g = &im->regs[im->nregs++];

			if (im->nregs > 8)
				return "too many regsets";
			g->note = ckpt_get32(p);
			g->len = ckpt_get32(p + 4);
			g->data = p + 8;
			if (len != 16 + 8 + g->len)
				return "regset record length";
		} else if (type == 0x30) {
			im->mm = p;
			im->mm_len = len - 16;
		} else if (type == 0x31) {
			struct vma_rec *v = &im->vma[im->nvma++];

			if (len != 16 + 48)
				return "vma record length";
			v->id = id;
			v->start = ckpt_get64(p);
			v->end = ckpt_get64(p + 8);
			v->offset = ckpt_get64(p + 16);
			v->file = ckpt_get64(p + 24);
			v->prot = ckpt_get32(p + 32);
			v->flags = ckpt_get32(p + 36);
			v->kind = p[40] | p[41] << 8;
		} else if (type == 0x32) {
			struct page_rec *pg = &im->pages[im->npages++];

			pg->vma = ckpt_get64(p);
			pg->start = ckpt_get64(p + 8);
			pg->count = ckpt_get32(p + 16);
			pg->crc = ckpt_get32(p + 20);
			pg->data = p + 24;
			if (len != 16 + 24 + pg->count * PAGE)
				return "pages record length";
			if (crc32c(crc32c(0, p, 20), p + 24, pg->count * PAGE) != pg->crc)
				return "pages record checksum";
			im->total_pages += pg->count;
			for (int i = 0; i < im->nvma; i++)
				if (im->vma[i].id == pg->vma)
					im->vma[i].pages += pg->count;
		}
		at += len;
	}
	return "no terminator";
}

static int page_in_image(const struct image *im, uint64_t addr)
{
	for (int i = 0; i < im->npages; i++)
		if (addr >= im->pages[i].start && addr < im->pages[i].start + im->pages[i].count * PAGE)
			return 1;
	return 0;
}

static const struct vma_rec *vma_at(const struct image *im, uint64_t addr)
{
	for (int i = 0; i < im->nvma; i++)
		if (addr >= im->vma[i].start && addr < im->vma[i].end)
			return &im->vma[i];
	return NULL;
}

static uint64_t file_ino(const struct image *im, uint64_t id)
{
	for (int i = 0; i < im->nfiles; i++)
		if (im->files[i].id == id)
			return im->files[i].ino;
	return 0;
}

/* ---- the test ---- */

FIXTURE(mem) {
	struct ckpt_child c;	/* dev, dir, prog, image, pid, args, rc, err, log */
	struct child_info info;
	struct image im;
};

FIXTURE_SETUP(mem)
{
	ckpt_child_setup(_metadata, &self->c, "ckpt-mem");
}

FIXTURE_TEARDOWN(mem)
{
	ckpt_child_teardown(&self->c);
	free(self->im.pages);
}

/* Starts the child in @scenario and stops it under ptrace. */
static void start(struct __test_metadata *_metadata, FIXTURE_DATA(mem) *self, const char *scenario)
{
	ckpt_child_start(_metadata, &self->c, scenario, &self->info, sizeof(self->info));
}

/* Checkpoints the child with @flags into the image file and reads it back. */
static void dump(struct __test_metadata *_metadata, FIXTURE_DATA(mem) *self, __u64 flags,
		 int external)
{
	ckpt_child_dump(_metadata, &self->c, flags, external);
	self->im.buf = self->c.buf;
	self->im.len = self->c.len;
}

static FILE *proc_file(pid_t pid, const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	return fopen(path, "r");
}

TEST_F_TIMEOUT(mem, map_pages_and_mm_match_proc, 300)
{
	struct image *im = &self->im;
	const struct vma_rec *v;
	uint64_t zero_pfn, dumped_big = 0, expected_pages = 0;
	char line[512], path[64];
	const char *err;
	int pagemap, mem, nmaps = 0, bad = 0, n;
	unsigned long long s[52] = { 0 };
	const uint8_t *m;
	uint8_t auxv[1024], *vdso;
	uint32_t vdso_len;
	struct stat st;
	FILE *f;
	char *p;

	start(_metadata, self, "map");
	dump(_metadata, self, CKPT_CHECKPOINT_PROCESS, -1);
	ASSERT_EQ(0, self->c.rc) TH_LOG("errno %d: %s", self->c.err, self->c.log);
	err = parse_image(im);
	ASSERT_EQ(NULL, err) TH_LOG("%s", err);
	ASSERT_NE(NULL, im->mm);
	m = im->mm;

	/* /proc/PID/maps: the same mappings, in order, with the same attributes */
	f = proc_file(self->c.pid, "maps");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, offset, ino;
		char perms[8], name[256] = "";
		int kind;

		ASSERT_LE(5, sscanf(line, "%llx-%llx %7s %llx %*s %llu %255s", &start, &end, perms,
				    &offset, &ino, name));
		ASSERT_LT(nmaps, im->nvma) TH_LOG("more maps than vma records: %s", line);
		v = &im->vma[nmaps++];
		EXPECT_EQ(start, v->start) TH_LOG("%s", line);
		EXPECT_EQ(end, v->end) TH_LOG("%s", line);
		EXPECT_EQ((perms[0] == 'r') | (perms[1] == 'w') << 1 | (perms[2] == 'x') << 2,
			  (int)v->prot) TH_LOG("%s", line);
		if (!strcmp(name, "[heap]"))
			kind = 3;
		else if (!strcmp(name, "[stack]"))
			kind = 4;
		else if (!strcmp(name, "[vdso]"))
			kind = 5;
		else if (!strncmp(name, "[vvar", 5))
			kind = 6;
		else if (name[0] == '/')
			kind = 2;
		else
			kind = 1;
		EXPECT_EQ(kind, v->kind) TH_LOG("%s", line);
		if (kind == 2) {
			EXPECT_EQ(offset, v->offset) TH_LOG("%s", line);
			EXPECT_EQ(ino, file_ino(im, v->file)) TH_LOG("%s", line);
			EXPECT_EQ(perms[3] == 's', !!(v->flags & 1)) TH_LOG("%s", line);
		} else {
			EXPECT_EQ((uint64_t)0, v->offset);
			EXPECT_EQ((uint64_t)0, v->file);
		}
	}
	fclose(f);
	EXPECT_EQ(nmaps, im->nvma);

	/* pagemap: exactly the present pages are in the image, minus the zero page and, in
	 * private file mappings, the file's own pages; read before /proc/PID/mem faults any in */
	snprintf(path, sizeof(path), "/proc/%d/pagemap", self->c.pid);
	pagemap = open(path, O_RDONLY);
	ASSERT_GE(pagemap, 0);
	ASSERT_EQ(8, pread(pagemap, &zero_pfn, 8, self->info.zero_probe / PAGE * 8));
	ASSERT_EQ((uint64_t)1, zero_pfn >> 63) TH_LOG("the zero probe page is not mapped");
	zero_pfn &= (1ULL << 55) - 1;
	ASSERT_NE((uint64_t)0, zero_pfn) TH_LOG("pagemap hides PFNs: not root?");
	for (int i = 0; i < im->nvma; i++) {
		v = &im->vma[i];
		int dumped = v->kind == 1 || v->kind == 3 || v->kind == 4 ||
			     (v->kind == 2 && !(v->flags & 1));

		for (uint64_t a = v->start; a < v->end; a += PAGE) {
			uint64_t e;
			int want, have = page_in_image(im, a);

			ASSERT_EQ(8, pread(pagemap, &e, 8, a / PAGE * 8));
			want = dumped && (e >> 62 & 1 || ((e >> 63 & 1) &&
				(v->kind == 2 ? !(e >> 61 & 1) : (e & ((1ULL << 55) - 1)) != zero_pfn)));
			expected_pages += want;
			if (want != have && bad++ < 5)
				TH_LOG("page %" PRIx64 " (kind %d): pagemap %016" PRIx64 " says %d, image %d",
				       a, v->kind, e, want, have);
		}
	}
	close(pagemap);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(expected_pages, im->total_pages);

	/* the scenario's own pages */
	for (int i = 0; i < im->npages; i++)
		if (im->pages[i].vma == vma_at(im, self->info.big)->id)
			dumped_big += im->pages[i].count;
	EXPECT_EQ((uint64_t)256, dumped_big);
	EXPECT_FALSE(page_in_image(im, self->info.zero_probe));
	EXPECT_FALSE(page_in_image(im, self->info.zero_probe + PAGE));
	EXPECT_TRUE(page_in_image(im, self->info.zero_filled));
	EXPECT_FALSE(page_in_image(im, self->info.priv));
	EXPECT_TRUE(page_in_image(im, self->info.priv + PAGE));
	EXPECT_FALSE(page_in_image(im, self->info.priv + 2 * PAGE));
	EXPECT_EQ((uint64_t)0, vma_at(im, self->info.shared)->pages);
	EXPECT_TRUE(page_in_image(im, self->info.protnone));
	EXPECT_EQ((uint32_t)0, vma_at(im, self->info.protnone)->prot);
	/* 256 MiB mapped, 1 MiB touched: about 1 MiB of image */
	EXPECT_LT(im->len, 2 * MIB) TH_LOG("image of %zu bytes", im->len);

	/* /proc/PID/mem: every page byte for byte */
	snprintf(path, sizeof(path), "/proc/%d/mem", self->c.pid);
	mem = open(path, O_RDONLY);
	ASSERT_GE(mem, 0);
	bad = 0;
	for (int i = 0; i < im->npages; i++) {
		struct page_rec *pg = &im->pages[i];
		size_t len = pg->count * PAGE;
		uint8_t *buf = malloc(len);

		ASSERT_EQ((ssize_t)len, pread(mem, buf, len, pg->start));
		if (memcmp(buf, pg->data, len) && bad++ < 5)
			TH_LOG("pages at %" PRIx64 " differ from /proc/PID/mem", pg->start);
		free(buf);
	}
	EXPECT_EQ(0, bad);

	/* the mm record: /proc/PID/stat fields 26-28 and 45-51, brk, auxv, exe, vDSO */
	f = proc_file(self->c.pid, "stat");
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(line, sizeof(line), f));
	fclose(f);
	p = strrchr(line, ')') + 2;	/* field 3 */
	for (n = 3; n <= 51 && p; n++) {
		if (n != 3)
			s[n] = strtoull(p, NULL, 10);
		p = strchr(p, ' ');
		p = p ? p + 1 : NULL;
	}
	EXPECT_EQ(s[26], ckpt_get64(m + 0));		/* start_code */
	EXPECT_EQ(s[27], ckpt_get64(m + 8));		/* end_code */
	EXPECT_EQ(s[45], ckpt_get64(m + 16));	/* start_data */
	EXPECT_EQ(s[46], ckpt_get64(m + 24));	/* end_data */
	EXPECT_EQ(s[47], ckpt_get64(m + 32));	/* start_brk */
	EXPECT_EQ(self->info.brk, ckpt_get64(m + 40));
	EXPECT_EQ(s[28], ckpt_get64(m + 48));	/* start_stack */
	EXPECT_EQ(s[48], ckpt_get64(m + 56));	/* arg_start */
	EXPECT_EQ(s[49], ckpt_get64(m + 64));
	EXPECT_EQ(s[50], ckpt_get64(m + 72));	/* env_start */
	EXPECT_EQ(s[51], ckpt_get64(m + 80));
	ASSERT_EQ(0, stat(self->c.prog, &st));
	EXPECT_EQ(st.st_ino, file_ino(im, ckpt_get64(m + 88)));

	f = proc_file(self->c.pid, "auxv");
	ASSERT_NE(NULL, f);
	n = fread(auxv, 1, sizeof(auxv), f);
	fclose(f);
	ASSERT_LE((int)(ckpt_get32(m + 116) * 16 + 16), n);
	EXPECT_EQ(im->mm_len, 120 + ckpt_get32(m + 116) * 16);
	for (int i = 0; i < (int)ckpt_get32(m + 116) * 16; i += 8) {
		EXPECT_EQ(ckpt_get64(auxv + i), ckpt_get64(m + 120 + i));
	}
	EXPECT_EQ((uint64_t)0, ckpt_get64(auxv + ckpt_get32(m + 116) * 16)) TH_LOG("auxv continues");

	/* the vDSO: where maps says, and its checksum over /proc/PID/mem */
	v = vma_at(im, ckpt_get64(m + 96));
	ASSERT_NE(NULL, v);
	EXPECT_EQ(5, v->kind);
	EXPECT_EQ(v->end - v->start, (uint64_t)ckpt_get32(m + 104));
	vdso_len = ckpt_get32(m + 104);
	vdso = malloc(vdso_len);
	ASSERT_EQ((ssize_t)vdso_len, pread(mem, vdso, vdso_len, ckpt_get64(m + 96)));
	EXPECT_EQ(crc32c(0, vdso, vdso_len), ckpt_get32(m + 108));
	free(vdso);
	close(mem);
}

static const struct regset_rec *regset(const struct image *im, uint32_t note)
{
	for (int i = 0; i < im->nregs; i++)
		if (im->regs[i].note == note)
			return &im->regs[i];
	return NULL;
}

TEST_F(mem, registers_match_ptrace_getregset)
{
	static uint8_t buf[64 * 1024];
	const struct regset_rec *g;
	struct iovec iov;
	const char *err;

	start(_metadata, self, "regs");
	dump(_metadata, self, CKPT_CHECKPOINT_PROCESS, -1);
	ASSERT_EQ(0, self->c.rc) TH_LOG("errno %d: %s", self->c.err, self->c.log);
	err = parse_image(&self->im);
	ASSERT_EQ(NULL, err) TH_LOG("%s", err);

	/* general registers, fs and gs base included: as the tracer sees them */
	g = regset(&self->im, NT_PRSTATUS);
	ASSERT_NE(NULL, g);
	iov.iov_base = buf;
	iov.iov_len = sizeof(buf);
	ASSERT_EQ(0, ptrace(PTRACE_GETREGSET, self->c.pid, NT_PRSTATUS, &iov));
	ASSERT_EQ(iov.iov_len, g->len);
	EXPECT_EQ(0, memcmp(buf, g->data, g->len));
	EXPECT_NE((uint64_t)0, ckpt_get64(g->data + 21 * 8)) TH_LOG("fs_base of a glibc program is set");

	/* the XSAVE area, with the modified xmm7 (and ymm8's upper half where AVX exists) */
	g = regset(&self->im, NT_X86_XSTATE);
	ASSERT_NE(NULL, g);
	iov.iov_len = sizeof(buf);
	ASSERT_EQ(0, ptrace(PTRACE_GETREGSET, self->c.pid, NT_X86_XSTATE, &iov));
	ASSERT_EQ(iov.iov_len, g->len);
	EXPECT_EQ(0, memcmp(buf, g->data, g->len));
	EXPECT_EQ(0, memcmp(g->data + 160 + 7 * 16, XMM7, 16));
	if (self->info.avx) {
		/* the AVX component: standard format, offset 576, 16 bytes per register */
		EXPECT_EQ(0, memcmp(g->data + 160 + 8 * 16, YMM8, 16));
		EXPECT_NE((uint64_t)0, ckpt_get64(g->data + 512) & 4) TH_LOG("xstate_bv lacks AVX");
		EXPECT_EQ(0, memcmp(g->data + 576 + 8 * 16, YMM8 + 16, 16));
	} else {
		TH_LOG("no AVX: ymm8 not checked");
	}
}

TEST_F(mem, without_the_flag_no_memory_records)
{
	const char *err;

	start(_metadata, self, "shared_anon");
	dump(_metadata, self, 0, -1);
	ASSERT_EQ(0, self->c.rc) TH_LOG("errno %d: %s", self->c.err, self->c.log);
	err = parse_image(&self->im);
	ASSERT_EQ(NULL, err) TH_LOG("%s", err);
	EXPECT_EQ(NULL, self->im.mm);
	EXPECT_EQ(0, self->im.nvma);
}

static void expect_refused(struct __test_metadata *_metadata, FIXTURE_DATA(mem) *self,
			   const char *scenario, int external, const char *what)
{
	start(_metadata, self, scenario);
	dump(_metadata, self, CKPT_CHECKPOINT_PROCESS, external);
	ASSERT_EQ(-1, self->c.rc);
	EXPECT_EQ(EOPNOTSUPP, self->c.err);
	EXPECT_EQ((__u32)CKPT_REASON_UNSUPPORTED_MEMORY, self->c.args.reason) TH_LOG("%s", self->c.log);
	EXPECT_NE(NULL, strstr(self->c.log, what)) TH_LOG("log: %s", self->c.log);
}

TEST_F(mem, refuses_shared_anonymous_memory)
{
	expect_refused(_metadata, self, "shared_anon", -1, "shared anonymous memory");
}

TEST_F(mem, refuses_sysv_shm)
{
	expect_refused(_metadata, self, "sysv", -1, "SysV shared memory");
}

TEST_F(mem, refuses_userfaultfd)
{
	/* the uffd itself is declared external: the registered mapping is what is refused */
	start(_metadata, self, "uffd");
	dump(_metadata, self, CKPT_CHECKPOINT_PROCESS, self->info.uffd);
	ASSERT_EQ(-1, self->c.rc);
	EXPECT_EQ(EOPNOTSUPP, self->c.err);
	EXPECT_EQ((__u32)CKPT_REASON_UNSUPPORTED_MEMORY, self->c.args.reason) TH_LOG("%s", self->c.log);
	EXPECT_NE(NULL, strstr(self->c.log, "userfaultfd")) TH_LOG("log: %s", self->c.log);
}

static void expect_state_refused(struct __test_metadata *_metadata, FIXTURE_DATA(mem) *self,
				 const char *scenario, const char *what)
{
	start(_metadata, self, scenario);
	/* info.uffd is the scenario's own fd, if any: external, so the state is what refuses */
	dump(_metadata, self, CKPT_CHECKPOINT_PROCESS, self->info.uffd);
	ASSERT_EQ(-1, self->c.rc);
	EXPECT_EQ(EOPNOTSUPP, self->c.err);
	EXPECT_EQ((__u32)CKPT_REASON_UNSUPPORTED_STATE, self->c.args.reason) TH_LOG("%s", self->c.log);
	EXPECT_NE(NULL, strstr(self->c.log, what)) TH_LOG("log: %s", self->c.log);
}

TEST_F(mem, refuses_seccomp_filters)
{
	expect_state_refused(_metadata, self, "seccomp", "seccomp");
}

TEST_F(mem, refuses_interval_timers)
{
	expect_state_refused(_metadata, self, "itimer", "interval timers");
}

TEST_F(mem, refuses_posix_timers)
{
	expect_state_refused(_metadata, self, "posix_timer", "POSIX timers");
}

TEST_F(mem, refuses_io_uring)
{
	expect_state_refused(_metadata, self, "io_uring", "io_uring");
}

TEST_F(mem, unknown_flags_are_refused)
{
	start(_metadata, self, "map");
	dump(_metadata, self, 1ULL << 40, -1);
	ASSERT_EQ(-1, self->c.rc);
	EXPECT_EQ(EINVAL, self->c.err);
	EXPECT_EQ((__u32)CKPT_REASON_BAD_ARGUMENT, self->c.args.reason);
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "--child"))
		return child_main(argv);
	return test_harness_run(argc, argv);
}
