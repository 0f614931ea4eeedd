// SPDX-License-Identifier: GPL-2.0
/*
 * bench-helper: the small programs `make bench` runs in the guest, one binary
 * with a command word (see tools/bench/bench-guest):
 *
 *   mkfiles DIR N               create DIR/f0..f(N-1), sparse, 1 MiB each
 *   holder DIR N READY          the process under test: setsid, close every fd,
 *                               open DIR/fI read-only at fd I, seek it to
 *                               offset(I), create READY, then pause() forever
 *   floor-dump PID [fdinfo]     what user space does anyway to learn a process's
 *                               files: readlink and stat every /proc/PID/fd
 *                               entry (and read its fdinfo, with "fdinfo");
 *                               prints the count
 *   floor-restore DIR N OUT     the restore floor: close every fd, open the N
 *                               paths at fd I and seek them, take the time,
 *                               then check itself like "check self"
 *   check PID|self DIR N OUT    the oracle (procfs and the file system, not the
 *                               tools): the process has exactly fds 0..N-1
 *                               (its own OUT and directory fds aside), fd I is
 *                               DIR/fI (link, device and inode), read-only, at
 *                               offset(I). "self" takes the time first: exec'd
 *                               by `ckpt restore`, it marks the moment the
 *                               restored fds are there.
 *
 *
 * Scenario 2, memory (SIZE in bytes, a multiple of 8; the pattern of word I
 * of a buffer is pattern(I)):
 *
 *   memholder SIZE READY OUT    the process under test (static, run from a
 *                               tmpfs): setsid, close every fd, map SIZE
 *                               bytes of private anonymous memory, write the
 *                               pattern in every word, write "ADDR" in hex to
 *                               READY, then sleep in 5 ms steps. When its pid
 *                               changed (it was restored into another
 *                               process: ckpt) it writes "t1 NS" to OUT at
 *                               once; when its pid changed or SIGUSR1 came
 *                               (CRIU keeps the pid), it checks every word of
 *                               its buffer and writes "ok" or "bad: ..." to
 *                               OUT (appended), then sleeps on
 *   memcheck PID ADDR SIZE OUT  the oracle: reads SIZE bytes at ADDR of
 *                               /proc/PID/mem and checks the pattern
 *   floor-mem PID ADDR SIZE OUT the dump floor: reads SIZE bytes at ADDR of
 *                               /proc/PID/mem (1 MiB at a time) and writes
 *                               them to OUT (a file; "-": nowhere)
 *   floor-memload FILE SIZE     the restore floor: maps SIZE bytes of private
 *                               anonymous memory and read()s FILE into it
 *
 * Scenario 3, unlinked file contents:
 *
 *   mkpattern FILE SIZE         write SIZE bytes of the pattern to FILE
 *   ulholder FILE READY         the process under test: setsid, close every
 *                               fd, open FILE read-only at fd 0, seek it to
 *                               UL_POS, unlink FILE, create READY, pause()
 *   ulcheck PID|self SIZE OUT   the oracle: fd 0 is an unlinked regular file
 *                               ("... (deleted)", no link) of SIZE bytes
 *                               holding the pattern, read-only, at UL_POS,
 *                               and the only fd (the checker's own aside;
 *                               with "self", also fds 1 and 2: exec'd by
 *                               `ckpt restore`, it inherits its stdout and
 *                               stderr, which the image does not replace)
 *   floor-tmpfile SRC DIR       the restore floor: an O_TMPFILE file in DIR
 *                               receives the bytes of SRC (read and write,
 *                               1 MiB at a time)
 *
 * OUT receives "t1 NS" (CLOCK_MONOTONIC, floor-restore and check self) and
 * then "ok" or one "bad: ..." line per defect; the exit status is 0 only when
 * the check passed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define FILE_SIZE (1L << 20)

/* The distinct offset of fd I: odd, below FILE_SIZE for I < 300000. */
static off_t offset_of(long i)
{
	return 3 * i + 1;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench-helper: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, ": %s\n", strerror(errno));
	va_end(ap);
	exit(2);
}

static void raise_nofile(long n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		die("getrlimit");
	if (rl.rlim_cur >= (rlim_t)n + 16)
		return;
	rl.rlim_cur = n + 16;
	if (rl.rlim_max < rl.rlim_cur)
		rl.rlim_max = rl.rlim_cur;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		die("setrlimit(RLIMIT_NOFILE, %ld)", n + 16);
}

static void close_all(void)
{
	if (syscall(SYS_close_range, 0U, ~0U, 0U))
		die("close_range");
}

/* Open DIR/fI at fd I for every I < N (all lower fds are closed). */
static void open_all(const char *dir, long n)
{
	char path[PATH_MAX];

	for (long i = 0; i < n; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/f%ld", dir, i);
		fd = open(path, O_RDONLY);
		if (fd != i)
			die("open %s gave fd %d, not %ld", path, fd, i);
		if (lseek(fd, offset_of(i), SEEK_SET) != offset_of(i))
			die("lseek %s", path);
	}
}

static int mkfiles(const char *dir, long n)
{
	char path[PATH_MAX];

	for (long i = 0; i < n; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/f%ld", dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || ftruncate(fd, FILE_SIZE))
			die("create %s", path);
		close(fd);
	}
	return 0;
}

static void __attribute__((noreturn)) holder(const char *dir, long n, const char *ready)
{
	int fd;

	raise_nofile(n);
	if (setsid() < 0)
		die("setsid");
	close_all();
	open_all(dir, n);
	fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("create %s", ready);
	close(fd);
	for (;;)
		pause();
}

static int floor_dump(const char *pid, int fdinfo)
{
	char path[PATH_MAX], link[PATH_MAX], info[4096];
	struct dirent *d;
	struct stat st;
	long count = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	dir = opendir(path);
	if (!dir)
		die("opendir %s", path);
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd/%s", pid, d->d_name);
		if (readlink(path, link, sizeof(link)) < 0 || stat(path, &st))
			die("%s", path);
		if (fdinfo) {
			int fd;

			snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", pid, d->d_name);
			fd = open(path, O_RDONLY);
			if (fd < 0 || read(fd, info, sizeof(info)) <= 0)
				die("%s", path);
			close(fd);
		}
		count++;
	}
	closedir(dir);
	printf("%ld\n", count);
	return 0;
}

struct report {
	FILE *out;
	int bad;
};

static void bad(struct report *r, const char *fmt, ...)
{
	va_list ap;

	if (r->bad++ >= 20)
		return;
	va_start(ap, fmt);
	fprintf(r->out, "bad: ");
	vfprintf(r->out, fmt, ap);
	fprintf(r->out, "\n");
	va_end(ap);
}

/* Checks one fd against DIR/fI; stops early on a missing fd. */
static void check_fd(struct report *r, const char *pid, const char *dir, long i)
{
	char path[PATH_MAX], want[PATH_MAX], link[PATH_MAX], info[4096];
	long long pos = -1;
	unsigned int flags = 0;
	struct stat st, wst;
	ssize_t len;
	char *p;
	int fd;

	snprintf(want, sizeof(want), "%s/f%ld", dir, i);
	snprintf(path, sizeof(path), "/proc/%s/fd/%ld", pid, i);
	len = readlink(path, link, sizeof(link) - 1);
	if (len < 0) {
		bad(r, "fd %ld: %s", i, strerror(errno));
		return;
	}
	link[len] = 0;
	if (strcmp(link, want))
		bad(r, "fd %ld is %s, not %s", i, link, want);
	if (stat(path, &st) || stat(want, &wst))
		bad(r, "fd %ld: stat: %s", i, strerror(errno));
	else if (st.st_dev != wst.st_dev || st.st_ino != wst.st_ino)
		bad(r, "fd %ld: inode %lu:%lu, not %lu:%lu", i, (unsigned long)st.st_dev,
		    (unsigned long)st.st_ino, (unsigned long)wst.st_dev, (unsigned long)wst.st_ino);
	snprintf(path, sizeof(path), "/proc/%s/fdinfo/%ld", pid, i);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	len = fd < 0 ? -1 : read(fd, info, sizeof(info) - 1);
	if (fd >= 0)
		close(fd);
	if (len <= 0) {
		bad(r, "fd %ld: %s unreadable", i, path);
		return;
	}
	info[len] = 0;
	p = strstr(info, "pos:");
	if (p)
		pos = strtoll(p + 4, NULL, 10);
	p = strstr(info, "flags:");
	if (p)
		flags = strtoul(p + 6, NULL, 8);
	if (pos != offset_of(i))
		bad(r, "fd %ld: offset %lld, not %lld", i, pos, (long long)offset_of(i));
	if ((flags & O_ACCMODE) != O_RDONLY)
		bad(r, "fd %ld: flags 0%o, not read-only", i, flags);
}

/* The oracle; SKIP1 and SKIP2 are the checker's own fds (or -1). */
static int check(const char *pid, const char *dir, long n, FILE *out, int skip1, long long t1)
{
	struct report r = { .out = out };
	char path[PATH_MAX];
	struct dirent *d;
	long count = 0;
	DIR *fds;
	int skip2;

	if (t1)
		fprintf(out, "t1 %lld\n", t1);
	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	fds = opendir(path);
	if (!fds) {
		bad(&r, "opendir %s: %s", path, strerror(errno));
		goto done;
	}
	skip2 = strcmp(pid, "self") ? -1 : dirfd(fds);
	while ((d = readdir(fds))) {
		long fd;

		if (d->d_name[0] == '.')
			continue;
		fd = strtol(d->d_name, NULL, 10);
		if (fd == skip1 || fd == skip2)
			continue;
		if (fd >= n)
			bad(&r, "unexpected fd %ld", fd);
		count++;
	}
	closedir(fds);
	if (count != n)
		bad(&r, "%ld fds, not %ld", count, n);
	for (long i = 0; i < n; i++)
		check_fd(&r, pid, dir, i);
done:
	if (r.bad > 20)
		fprintf(out, "bad: ... %d defects in all\n", r.bad);
	if (!r.bad)
		fprintf(out, "ok\n");
	fclose(out);
	return r.bad ? 1 : 0;
}

static FILE *open_out(const char *path)
{
	FILE *out = fopen(path, "we");

	if (!out)
		die("create %s", path);
	return out;
}

/* ---------------------------------------------------------------- memory */

#define CHUNK (1L << 20)
#define UL_POS 12345L

/* Word I of the pattern: no two words alike, no page of zeroes. */
static uint64_t pattern(uint64_t i)
{
	return (i + 1) * 0x9e3779b97f4a7c15ULL;
}

/* The first word of BUF (words FIRST...) that is not the pattern, or -1. */
static long check_words(const uint64_t *buf, long words, uint64_t first)
{
	for (long i = 0; i < words; i++)
		if (buf[i] != pattern(first + i))
			return i;
	return -1;
}

static unsigned long long parse_size(const char *s)
{
	return strtoull(s, NULL, 0);
}

static volatile sig_atomic_t check_now;

static void on_usr1(int sig)
{
	(void)sig;
	check_now = 1;
}

/* Writes TEXT to PATH (appended; created if need be). */
static void note(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			_exit(3);
		close(fd);
	}
}

static void __attribute__((noreturn)) memholder(unsigned long long size, const char *ready,
						   const char *out)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	pid_t pid0 = getpid();
	int reported = 0;
	uint64_t *buf;
	char text[128];

	if (setsid() < 0)
		die("setsid");
	close_all();
	if (sigaction(SIGUSR1, &sa, NULL))
		die("sigaction");
	buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap %llu", size);
	for (unsigned long long i = 0; i < size / 8; i++)
		buf[i] = pattern(i);
	snprintf(text, sizeof(text), "%llx\n", (unsigned long long)(uintptr_t)buf);
	note(ready, text);
	for (;;) {
		struct timespec ts = { 0, 5000000 };
		int moved;
		long bad;

		nanosleep(&ts, NULL);
		moved = getpid() != pid0;
		if (moved && !reported) {
			snprintf(text, sizeof(text), "t1 %lld\n", now_ns());
			note(out, text);
		}
		if ((moved && !reported) || check_now) {
			reported = 1;
			check_now = 0;
			bad = check_words(buf, size / 8, 0);
			if (bad < 0)
				snprintf(text, sizeof(text), "ok\n");
			else
				snprintf(text, sizeof(text), "bad: word %ld of the buffer is %#llx, not %#llx\n",
					 bad, (unsigned long long)buf[bad],
					 (unsigned long long)pattern(bad));
			note(out, text);
		}
	}
}

/* Reads SIZE bytes at ADDR of /proc/PID/mem; each chunk goes to FN. */
static int read_mem(const char *pid, unsigned long long addr, unsigned long long size,
		    int (*fn)(void *ctx, const void *buf, long len, unsigned long long off), void *ctx)
{
	char path[64];
	char *buf = malloc(CHUNK);
	int fd, rc = 0;

	snprintf(path, sizeof(path), "/proc/%s/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !buf)
		die("open %s", path);
	for (unsigned long long off = 0; off < size && !rc; off += CHUNK) {
		long len = size - off < CHUNK ? (long)(size - off) : CHUNK;
		ssize_t n = pread(fd, buf, len, addr + off);

		if (n != len)
			die("read %s at %#llx (%zd of %ld)", path, addr + off, n, len);
		rc = fn(ctx, buf, len, off);
	}
	close(fd);
	free(buf);
	return rc;
}

static int write_chunk(void *ctx, const void *buf, long len, unsigned long long off)
{
	int fd = *(int *)ctx;

	(void)off;
	if (fd >= 0 && write(fd, buf, len) != len)
		die("write");
	return 0;
}

static int check_chunk(void *ctx, const void *buf, long len, unsigned long long off)
{
	long bad = check_words(buf, len / 8, off / 8);

	if (bad < 0)
		return 0;
	fprintf(ctx, "bad: word %llu is %#llx, not %#llx\n", off / 8 + bad,
		(unsigned long long)((const uint64_t *)buf)[bad],
		(unsigned long long)pattern(off / 8 + bad));
	return 1;
}

static int floor_memload(const char *file, unsigned long long size)
{
	char *buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned long long done = 0;
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || buf == MAP_FAILED)
		die("%s", file);
	while (done < size) {
		ssize_t n = read(fd, buf + done, size - done < CHUNK ? size - done : CHUNK);

		if (n <= 0)
			die("read %s", file);
		done += n;
	}
	return 0;
}

/* ---------------------------------------------------------------- unlinked */

static int mkpattern(const char *file, unsigned long long size)
{
	uint64_t *buf = malloc(CHUNK);
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || !buf)
		die("create %s", file);
	for (unsigned long long off = 0; off < size; off += CHUNK) {
		long len = size - off < CHUNK ? (long)(size - off) : CHUNK;

		for (long i = 0; i < len / 8; i++)
			buf[i] = pattern(off / 8 + i);
		if (write(fd, buf, len) != len)
			die("write %s", file);
	}
	if (close(fd))
		die("close %s", file);
	return 0;
}

static void __attribute__((noreturn)) ulholder(const char *file, const char *ready)
{
	if (setsid() < 0)
		die("setsid");
	close_all();
	if (open(file, O_RDONLY) != 0)
		die("open %s", file);
	if (lseek(0, UL_POS, SEEK_SET) != UL_POS || unlink(file))
		die("seek or unlink %s", file);
	note(ready, "");
	for (;;)
		pause();
}

static int ulcheck(const char *pid, unsigned long long size, FILE *out, long long t1)
{
	struct report r = { .out = out };
	char path[PATH_MAX], link[PATH_MAX], info[4096];
	uint64_t *buf = malloc(CHUNK);
	long long pos = -1;
	unsigned int flags = 0;
	struct stat st;
	struct dirent *d;
	ssize_t len;
	char *p;
	DIR *fds;
	int fd, self = !strcmp(pid, "self");

	if (t1)
		fprintf(out, "t1 %lld\n", t1);
	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	fds = opendir(path);
	if (!fds || !buf) {
		bad(&r, "opendir %s: %s", path, strerror(errno));
		goto done;
	}
	while ((d = readdir(fds))) {
		long n = strtol(d->d_name, NULL, 10);

		if (d->d_name[0] == '.' || n == 0 ||
		    (self && (n == 1 || n == 2 || n == fileno(out) || n == dirfd(fds))))
			continue;
		bad(&r, "unexpected fd %ld", n);
	}
	closedir(fds);
	snprintf(path, sizeof(path), "/proc/%s/fd/0", pid);
	len = readlink(path, link, sizeof(link) - 1);
	link[len > 0 ? len : 0] = 0;
	if (len < 0 || !strstr(link, " (deleted)"))
		bad(&r, "fd 0 is \"%s\", not an unlinked file", link);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		bad(&r, "fd 0: %s", strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 0 || (unsigned long long)st.st_size != size)
		bad(&r, "fd 0: mode %o, %lu links, %lld bytes; not a regular unlinked file of %llu",
		    st.st_mode, (unsigned long)st.st_nlink, (long long)st.st_size, size);
	for (unsigned long long off = 0; off < size; off += CHUNK) {
		long want = size - off < CHUNK ? (long)(size - off) : CHUNK, at;

		if (pread(fd, buf, want, off) != want) {
			bad(&r, "fd 0: short read at %llu", off);
			break;
		}
		at = check_words(buf, want / 8, off / 8);
		if (at >= 0) {
			bad(&r, "fd 0: word %llu is %#llx, not %#llx", off / 8 + at,
			    (unsigned long long)buf[at], (unsigned long long)pattern(off / 8 + at));
			break;
		}
	}
	close(fd);
	snprintf(path, sizeof(path), "/proc/%s/fdinfo/0", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	len = fd < 0 ? -1 : read(fd, info, sizeof(info) - 1);
	if (fd >= 0)
		close(fd);
	info[len > 0 ? len : 0] = 0;
	p = strstr(info, "pos:");
	if (p)
		pos = strtoll(p + 4, NULL, 10);
	p = strstr(info, "flags:");
	if (p)
		flags = strtoul(p + 6, NULL, 8);
	if (pos != UL_POS)
		bad(&r, "fd 0: offset %lld, not %ld", pos, UL_POS);
	if ((flags & O_ACCMODE) != O_RDONLY)
		bad(&r, "fd 0: flags 0%o, not read-only", flags);
done:
	if (!r.bad)
		fprintf(out, "ok\n");
	fclose(out);
	return r.bad ? 1 : 0;
}

static int floor_tmpfile(const char *src, const char *dir)
{
	char *buf = malloc(CHUNK);
	int in = open(src, O_RDONLY | O_CLOEXEC);
	int out = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	ssize_t n;

	if (in < 0 || out < 0 || !buf)
		die("%s -> %s", src, dir);
	while ((n = read(in, buf, CHUNK)) > 0)
		if (write(out, buf, n) != n)
			die("write");
	if (n < 0)
		die("read %s", src);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "mkfiles") && argc == 4)
		return mkfiles(argv[2], atol(argv[3]));
	if (!strcmp(cmd, "holder") && argc == 5)
		holder(argv[2], atol(argv[3]), argv[4]);
	if (!strcmp(cmd, "floor-dump") && (argc == 3 || argc == 4))
		return floor_dump(argv[2], argc == 4 && !strcmp(argv[3], "fdinfo"));
	if (!strcmp(cmd, "floor-restore") && argc == 5) {
		long n = atol(argv[3]);
		long long t1;
		FILE *out;

		raise_nofile(n);
		close_all();
		open_all(argv[2], n);
		t1 = now_ns();
		out = open_out(argv[4]);
		return check("self", argv[2], n, out, fileno(out), t1);
	}
	if (!strcmp(cmd, "check") && argc == 6) {
		int self = !strcmp(argv[2], "self");
		long long t1 = self ? now_ns() : 0;
		FILE *out = open_out(argv[5]);

		return check(argv[2], argv[3], atol(argv[4]), out, self ? fileno(out) : -1, t1);
	}
	if (!strcmp(cmd, "memholder") && argc == 5)
		memholder(parse_size(argv[2]), argv[3], argv[4]);
	if (!strcmp(cmd, "memcheck") && argc == 6) {
		FILE *out = open_out(argv[5]);
		int rc = read_mem(argv[2], strtoull(argv[3], NULL, 16), parse_size(argv[4]),
				  check_chunk, out);

		if (!rc)
			fprintf(out, "ok\n");
		fclose(out);
		return rc;
	}
	if (!strcmp(cmd, "floor-mem") && argc == 6) {
		int fd = strcmp(argv[5], "-") ?
			open(argv[5], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;

		if (fd < 0 && strcmp(argv[5], "-"))
			die("create %s", argv[5]);
		return read_mem(argv[2], strtoull(argv[3], NULL, 16), parse_size(argv[4]),
				write_chunk, &fd);
	}
	if (!strcmp(cmd, "floor-memload") && argc == 4)
		return floor_memload(argv[2], parse_size(argv[3]));
	if (!strcmp(cmd, "mkpattern") && argc == 4)
		return mkpattern(argv[2], parse_size(argv[3]));
	if (!strcmp(cmd, "ulholder") && argc == 4)
		ulholder(argv[2], argv[3]);
	if (!strcmp(cmd, "ulcheck") && argc == 5) {
		int self = !strcmp(argv[2], "self");
		long long t1 = self ? now_ns() : 0;

		return ulcheck(argv[2], parse_size(argv[3]), open_out(argv[4]), t1);
	}
	if (!strcmp(cmd, "floor-tmpfile") && argc == 4)
		return floor_tmpfile(argv[2], argv[3]);
	fprintf(stderr, "usage: bench-helper mkfiles|holder|floor-dump|floor-restore|check|memholder|"
		"memcheck|floor-mem|floor-memload|mkpattern|ulholder|ulcheck|floor-tmpfile ... "
		"(see the source)\n");
	return 2;
}
