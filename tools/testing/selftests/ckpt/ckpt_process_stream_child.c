// SPDX-License-Identifier: GPL-2.0
/*
 * The child of ckpt_process_stream_test (static glibc): fills MIB mebibytes
 * of anonymous memory with a pattern (each 8-byte word its address mixed
 * with a constant), says where on fd 1 ("mem ADDR LEN GRANDCHILD\n"), then
 * blocks in one system call, in which it is checkpointed:
 *
 *   read             read(0, buf, 63)
 *   nanosleep        nanosleep() of 1000 s (raw system call)
 *   clock_nanosleep  clock_nanosleep(CLOCK_MONOTONIC, 0) of 1000 s (raw)
 *   wait4            wait4(-1) for a grandchild that sleeps forever
 *
 * When the call returns it reports on fd 1 what it returned, its errno, the
 * words of the pattern it found wrong and what read() read:
 * "ret=R errno=E bad=B data=D\n"; then it reads fd 0 to its end and exits
 * with 0.
 *
 * Usage: ckpt_process_stream_child MODE MIB
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PATTERN 0x5bd1e995deadbeefULL

int main(int argc, char **argv)
{
	struct timespec ts = { .tv_sec = 1000 }, rem = { 0 };
	size_t len, words;
	uint64_t *mem, bad = 0;
	char line[256], buf[64] = "";
	pid_t grandchild = 0;
	long ret = 0;
	int err = 0, status;

	if (argc != 3)
		return 2;
	len = strtoul(argv[2], NULL, 0) << 20;
	if (!len)
		len = 4096;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 3;
	words = len / 8;
	for (size_t i = 0; i < words; i++)
		mem[i] = (uintptr_t)&mem[i] ^ PATTERN;
	if (!strcmp(argv[1], "wait4")) {
		grandchild = fork();
		if (grandchild == 0) {
			for (;;)
				pause();
		}
		if (grandchild < 0)
			return 4;
	}
	snprintf(line, sizeof(line), "mem %lx %zx %d\n", (unsigned long)mem, len, grandchild);
	if (write(1, line, strlen(line)) != (ssize_t)strlen(line))
		return 5;

	errno = 0;
	if (!strcmp(argv[1], "read"))
		ret = read(0, buf, sizeof(buf) - 1);
	else if (!strcmp(argv[1], "nanosleep"))
		ret = syscall(SYS_nanosleep, &ts, &rem);
	else if (!strcmp(argv[1], "clock_nanosleep"))
		ret = syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ts, &rem);
	else if (!strcmp(argv[1], "wait4"))
		ret = syscall(SYS_wait4, -1, &status, 0, NULL);
	else
		return 6;
	err = errno;
	if (ret > 0 && !strcmp(argv[1], "read"))
		buf[ret] = 0;
	buf[strcspn(buf, "\n")] = 0;

	for (size_t i = 0; i < words; i++)
		if (mem[i] != ((uintptr_t)&mem[i] ^ PATTERN))
			bad++;
	snprintf(line, sizeof(line), "ret=%ld errno=%d bad=%llu data=%s\n", ret, err,
		 (unsigned long long)bad, buf);
	if (write(1, line, strlen(line)) != (ssize_t)strlen(line))
		return 7;
	while (read(0, buf, sizeof(buf)) > 0)
		;
	return 0;
}
