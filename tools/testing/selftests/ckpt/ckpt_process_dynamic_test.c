// SPDX-License-Identifier: GPL-2.0
/*
 * Whole-process restart of dynamically linked programs (issue 11, acceptance
 * 3): their executable, ld.so and libraries are on the guest's root file
 * system (9p), reopened by path and identity-checked.
 *
 * dyn_c_program_continues: the dynamic C child (ckpt_process_dyn_child.c,
 * run from the build directory on the root file system) with malloc'd
 * state, a fully buffered stdio stream, a SIGUSR1 handler on a malloc'd
 * altstack, a private mapping of a file on ext4 (loop mount) it changed in
 * part, and a file on ext4 it reads through an fd. Traced by this test, it is
 * checkpointed at its second stop and killed; `ckpt restore --image`, traced
 * too, must become it: at its next stop the step counter is 3, the bytes it
 * read are those after the offset it had reached, the mapping's four pages
 * are byte for byte what they were (its private change kept), the file on
 * ext4 is untouched, /proc/PID/maps is the original's; a SIGUSR1 reaches the
 * handler on the altstack; told to quit, it exits 42 and its stdio buffer,
 * never flushed by the original, reaches the output file: "step 1" to "step
 * 5", each once. Oracles: /proc/PID/mem, /proc/PID/maps, ptrace, the files.
 *
 * changed_mapped_file_refused: the mapped ext4 file modified after the
 * checkpoint (mtime changed, same size; then same mtime, other size) is
 * refused before the point of no return, naming the mapped file and why
 * (CKPT_REASON_FILE_CHANGED), the caller intact; `ckpt restore` exits 3.
 *
 * python3_sequence_continues: /usr/bin/python3 printing 0, 1, 2, ... to a
 * file (flushed each line) is checkpointed and killed; restored, it goes on:
 * the file holds every number once, in order, well past where it stopped.
 *
 * CKPT_CLI: path of the ckpt binary (default: the release build in tools/).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/ckpt.h>

#include "kselftest_harness.h"
#include "ckpt_selftest.h"

#define MAP_LEN (4 * 4096)
#define READ_LEN 4096

/* What the child reports on fd 3. */
struct child_info {
	uint64_t step, quit, handled, on_altstack, last, map, altstack;
};

FIXTURE(dyn) {
	int dev;
	char here[PATH_MAX];
	char dir[64];
	char ext[96];
	char mapfile[128];
	char readfile[128];
	char outfile[128];
	char image[128];
	char errlog[128];
	char cli[PATH_MAX + 64];
	pid_t child;
	struct child_info info;
	char maps[16384];
	uint8_t mem[MAP_LEN];
	uint8_t file[MAP_LEN];
};

/* The byte at @i of the mapped file (and, shifted, of the read file). */
static uint8_t pattern(size_t i, int seed)
{
	return (uint8_t)(i * 7 + seed + (i >> 8));
}

static int write_pattern(const char *path, size_t len, int seed)
{
	uint8_t buf[MAP_LEN];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || len > sizeof(buf))
		return -1;
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern(i, seed);
	if (write(fd, buf, len) != (ssize_t)len)
		return -1;
	return close(fd);
}

FIXTURE_SETUP(dyn)
{
	char err[PATH_MAX * 4];

	ckpt_exe_dir(self->here, sizeof(self->here));
	ckpt_find_cli(_metadata, self->cli, sizeof(self->cli));
	self->dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_GE(self->dev, 0);
	self->child = -1;
	strcpy(self->dir, "/tmp/ckpt-dyn-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	ASSERT_EQ(0, mount("tmpfs", self->dir, "tmpfs", 0, "size=128m"));
	snprintf(self->ext, sizeof(self->ext), "%s/ext", self->dir);
	ASSERT_EQ(0, ckpt_mount_fs("ext4", self->ext, 16, "loop", err, sizeof(err)))
		TH_LOG("%s", err);
	snprintf(self->mapfile, sizeof(self->mapfile), "%s/mapped", self->ext);
	snprintf(self->readfile, sizeof(self->readfile), "%s/read", self->ext);
	snprintf(self->outfile, sizeof(self->outfile), "%s/out", self->dir);
	snprintf(self->image, sizeof(self->image), "%s/image", self->dir);
	snprintf(self->errlog, sizeof(self->errlog), "%s/errlog", self->dir);
	ASSERT_EQ(0, write_pattern(self->mapfile, MAP_LEN, 1));
	ASSERT_EQ(0, write_pattern(self->readfile, READ_LEN, 2));
}

FIXTURE_TEARDOWN(dyn)
{
	ckpt_kill_child(&self->child);
	if (ckpt_unmount_fs(self->ext))
		TH_LOG("unmounting the ext4 file system: %s", strerror(errno));
	umount2(self->dir, MNT_DETACH);
	rmdir(self->dir);
	close(self->dev);
}

static uint64_t mem_u64(pid_t pid, uint64_t addr)
{
	uint64_t v = ~0ULL;

	ckpt_mem_read(pid, addr, &v, sizeof(v));
	return v;
}

/*
 * Runs the C child to its second stop, notes what the oracles see
 * (/proc/PID/maps, the mapping's bytes), checkpoints it and kills it.
 */
static void checkpoint_child(struct __test_metadata *_metadata, FIXTURE_DATA(dyn) *self)
{
	char prog[PATH_MAX + 32];
	char *argv[] = { prog, self->mapfile, self->readfile, self->outfile, NULL };
	char last[16];
	struct stat st;

	snprintf(prog, sizeof(prog), "%s/ckpt_process_dyn_child", self->here);
	ckpt_spawn_reporting(_metadata, argv, &self->child, &self->info, sizeof(self->info));
	ASSERT_EQ(0, ckpt_run_to_stop(self->child));
	EXPECT_EQ(2ULL, mem_u64(self->child, self->info.step));
	ASSERT_EQ(0, ckpt_mem_read(self->child, self->info.last, last, sizeof(last)));
	for (size_t i = 0; i < sizeof(last); i++) {
		ASSERT_EQ(pattern(16 + i, 2), (uint8_t)last[i]) TH_LOG("the child's second read");
	}
	ASSERT_EQ(0, ckpt_mem_read(self->child, self->info.map, self->mem, MAP_LEN));
	ASSERT_EQ(0, memcmp(self->mem + 4096 + 100, "changed privately", 17));
	ckpt_maps_of(self->child, self->maps, sizeof(self->maps));
	ASSERT_NE(NULL, strstr(self->maps, self->mapfile)) TH_LOG("%s", self->maps);

	ckpt_dump_process_to(_metadata, self->dev, self->child, self->image);
	ckpt_kill_child(&self->child);
	/* the stdio buffer was never flushed: it lives only in the image */
	ASSERT_EQ(0, stat(self->outfile, &st));
	ASSERT_EQ(0, st.st_size);
}

TEST_F_TIMEOUT(dyn, dyn_c_program_continues, 300)
{
	char maps[sizeof(self->maps)], last[16], out[256];
	uint8_t mem[MAP_LEN], file[MAP_LEN];
	int n;

	checkpoint_child(_metadata, self);
	ckpt_restore_to_stop(_metadata, self->cli, self->image, self->errlog, &self->child,
			     "the restorer did not stop like the child");

	/* malloc'd state: the step counter went on */
	EXPECT_EQ(3ULL, mem_u64(self->child, self->info.step));
	/* the fd read on from its offset: bytes 32 to 47 */
	ASSERT_EQ(0, ckpt_mem_read(self->child, self->info.last, last, sizeof(last)));
	for (size_t i = 0; i < sizeof(last); i++) {
		EXPECT_EQ(pattern(32 + i, 2), (uint8_t)last[i]) TH_LOG("byte %zu of the third read", i);
	}
	/* the private mapping: as it was, its private change included */
	ASSERT_EQ(0, ckpt_mem_read(self->child, self->info.map, mem, MAP_LEN));
	for (size_t p = 0; p < MAP_LEN / 4096; p++) {
		EXPECT_EQ(0, memcmp(mem + p * 4096, self->mem + p * 4096, 4096))
			TH_LOG("page %zu of the private file mapping", p);
	}
	EXPECT_EQ(0, memcmp(mem + 4096 + 100, "changed privately", 17));
	/* ... and the file under it untouched */
	ASSERT_EQ(MAP_LEN, ckpt_read_file(self->mapfile, file, sizeof(file)));
	for (size_t i = 0; i < MAP_LEN; i++)
		if (file[i] != pattern(i, 1)) {
			EXPECT_EQ(pattern(i, 1), file[i]) TH_LOG("byte %zu of the mapped file", i);
			break;
		}
	ckpt_maps_of(self->child, maps, sizeof(maps));
	EXPECT_STREQ(self->maps, maps);

	/* a signal reaches the handler, on the malloc'd altstack */
	ASSERT_EQ(0, kill(self->child, SIGUSR1));
	ASSERT_EQ(0, ckpt_run_to_stop(self->child));
	EXPECT_EQ(1ULL, mem_u64(self->child, self->info.handled));
	EXPECT_EQ(1ULL, mem_u64(self->child, self->info.on_altstack));
	EXPECT_EQ(4ULL, mem_u64(self->child, self->info.step));

	/* told to quit, it flushes its stdio buffer and exits 42 */
	ckpt_quit_42(_metadata, &self->child, self->info.quit);
	n = ckpt_read_file(self->outfile, out, sizeof(out) - 1);
	ASSERT_GE(n, 0);
	out[n] = 0;
	EXPECT_STREQ("step 1\nstep 2\nstep 3\nstep 4\nstep 5\n", out);
}

/* Refused by phase A and by the CLI, naming the mapped file and @why. */
static void refused(struct __test_metadata *_metadata, FIXTURE_DATA(dyn) *self, const char *why)
{
	char before[sizeof(self->maps)], after[sizeof(self->maps)], said[2048];
	struct ckpt_rs r;
	int fd, status, n, ret;

	ckpt_maps_of(getpid(), before, sizeof(before));
	fd = open(self->image, O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	ret = ckpt_validate_process(self->dev, fd, 0, &r);
	close(fd);
	/* validated by mistake: no commit (it would turn this test into the child) */
	ASSERT_NE(0, ret) TH_LOG("the changed file was not refused");
	EXPECT_EQ(ESTALE, ret);
	EXPECT_EQ((__u32)CKPT_REASON_FILE_CHANGED, r.a.reason);
	EXPECT_NE(NULL, strstr(r.log, "mapped file")) TH_LOG("%s", r.log);
	EXPECT_NE(NULL, strstr(r.log, self->mapfile)) TH_LOG("%s", r.log);
	EXPECT_NE(NULL, strstr(r.log, why)) TH_LOG("%s", r.log);
	EXPECT_EQ(NULL, strstr(r.log, "fd ")) TH_LOG("%s", r.log);
	TH_LOG("refused: %s", r.log);
	/* nothing kept, nothing changed */
	EXPECT_EQ(EINVAL, ckpt_commit_errno(self->dev));
	ckpt_maps_of(getpid(), after, sizeof(after));
	EXPECT_STREQ(before, after);

	/* ckpt restore: refused with the kernel's words, exit 3 */
	ckpt_restore_refused(_metadata, self->cli, self->image, self->errlog, &self->child,
			     &status);
	EXPECT_EQ(3, WEXITSTATUS(status));
	n = ckpt_read_file(self->errlog, said, sizeof(said) - 1);
	said[n > 0 ? n : 0] = 0;
	EXPECT_NE(NULL, strstr(said, why)) TH_LOG("%s", said);
}

TEST_F_TIMEOUT(dyn, changed_mapped_file_refused, 300)
{
	struct timespec times[2];
	struct stat st;
	uint8_t b;
	int fd;

	checkpoint_child(_metadata, self);
	ASSERT_EQ(0, stat(self->mapfile, &st));

	/* the same bytes written again: only the mtime changes */
	usleep(20000);
	fd = open(self->mapfile, O_WRONLY);
	ASSERT_GE(fd, 0);
	b = pattern(5000, 1);
	ASSERT_EQ(1, pwrite(fd, &b, 1, 5000));
	close(fd);
	refused(_metadata, self, "mtime differs");

	/* the mtime set back, the size changed */
	ASSERT_EQ(0, truncate(self->mapfile, MAP_LEN + 1));
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	ASSERT_EQ(0, utimensat(AT_FDCWD, self->mapfile, times, 0));
	refused(_metadata, self, "size changed");
}

/* Lines of @path that are 0, 1, 2, ... in order; -1 at the first that is not. */
static long sequence_length(const char *path, char *bad, size_t badlen)
{
	char line[64];
	long n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0; /* not created yet */
	while (fgets(line, sizeof(line), f)) {
		char want[32];

		snprintf(want, sizeof(want), "%ld\n", n);
		if (strcmp(line, want)) {
			snprintf(bad, badlen, "line %ld is \"%s\"", n + 1, line);
			fclose(f);
			return -1;
		}
		n++;
	}
	fclose(f);
	return n;
}

/* Waits up to @secs for @path to hold at least @lines lines of the sequence. */
static long wait_lines(const char *path, long lines, int secs, char *bad, size_t badlen)
{
	long n = 0;

	for (int i = 0; i < secs * 10; i++) {
		n = sequence_length(path, bad, badlen);
		if (n < 0 || n >= lines)
			return n;
		usleep(100000);
	}
	return n;
}

TEST_F_TIMEOUT(dyn, python3_sequence_continues, 400)
{
	static const char script[] =
		"import sys, time\n"
		"f = open(sys.argv[1], 'w')\n"
		"i = 0\n"
		"while True:\n"
		"    print(i, file=f, flush=True)\n"
		"    i += 1\n"
		"    time.sleep(0.01)\n";
	char py[128], bad[128] = "";
	char *argv[] = { "/usr/bin/python3", py, self->outfile, NULL };
	char *rargv[] = { self->cli, "restore", "--image", self->image, NULL };
	long at_dump, n;
	int fd, status;

	if (access(argv[0], X_OK))
		SKIP(return, "no /usr/bin/python3");
	snprintf(py, sizeof(py), "%s/count.py", self->dir);
	fd = open(py, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ASSERT_GE(fd, 0);
	ASSERT_EQ((ssize_t)strlen(script), write(fd, script, strlen(script)));
	close(fd);

	self->child = ckpt_spawn(argv, -1, -1, -1);
	ASSERT_GT(self->child, 0);
	n = wait_lines(self->outfile, 5, 120, bad, sizeof(bad));
	ASSERT_GE(n, 5) TH_LOG("python3 did not count: %s", bad);
	ASSERT_EQ(0, ptrace(PTRACE_SEIZE, self->child, 0, 0));
	ASSERT_EQ(0, ptrace(PTRACE_INTERRUPT, self->child, 0, 0));
	ASSERT_EQ(self->child, waitpid(self->child, &status, __WALL));
	ASSERT_TRUE(WIFSTOPPED(status));
	ckpt_dump_process_to(_metadata, self->dev, self->child, self->image);
	ckpt_kill_child(&self->child);
	at_dump = sequence_length(self->outfile, bad, sizeof(bad));
	ASSERT_GE(at_dump, 5) TH_LOG("%s", bad);

	self->child = ckpt_spawn(rargv, -1, -1, -1);
	ASSERT_GT(self->child, 0);
	n = wait_lines(self->outfile, at_dump + 20, 120, bad, sizeof(bad));
	kill(self->child, SIGKILL);
	ASSERT_EQ(self->child, waitpid(self->child, &status, 0));
	self->child = -1;
	EXPECT_TRUE(WIFSIGNALED(status)) TH_LOG("the restored python3 ended by itself: %#x", status);
	/* no gap, no repeat, and on well past where it stopped */
	ASSERT_GE(n, at_dump + 20) TH_LOG("%ld lines at the checkpoint, %ld now: %s", at_dump, n, bad);
	n = sequence_length(self->outfile, bad, sizeof(bad));
	EXPECT_GE(n, at_dump + 20) TH_LOG("%s", bad);
}

TEST_HARNESS_MAIN
