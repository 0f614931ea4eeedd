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
 * OUT receives "t1 NS" (CLOCK_MONOTONIC, floor-restore and check self) and
 * then "ok" or one "bad: ..." line per defect; the exit status is 0 only when
 * the check passed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	fprintf(stderr, "usage: bench-helper mkfiles|holder|floor-dump|floor-restore|check ... (see the source)\n");
	return 2;
}
