// SPDX-License-Identifier: GPL-2.0
/*
 * The dynamically linked child of ckpt_process_dynamic_test (ld.so and libc
 * from the root file system): "ckpt_process_dyn_child MAPFILE READFILE OUT".
 *
 * Its state lives where a dynamic program keeps it: a malloc'd struct (step
 * counter, quit flag, SIGUSR1 handler counters, the last bytes read), a
 * fully buffered stdio stream on OUT that is never flushed before it exits,
 * an alternate signal stack from malloc for a SIGUSR1 handler (SA_ONSTACK),
 * a private writable mapping of MAPFILE (4 pages, the fd closed) whose
 * second page it changes once, and READFILE open on an fd it reads 16 bytes
 * of at each step. Each step: step++, read 16 bytes into last, one line
 * "step N" into the stdio buffer, then it stops itself (SIGSTOP); once it
 * finds quit set it closes OUT (the buffer reaches the file) and exits 42.
 *
 * It writes the addresses of step, quit, handled, on_altstack, last, the
 * mapping and the altstack to fd 3, then closes it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ALTSTACK_SIZE (64 * 1024)
#define MAP_LEN (4 * 4096)

struct state {
	volatile long step, quit, handled, on_altstack;
	char last[16];
};

static struct state *st;
static char *altstack;

static void on_usr1(int sig)
{
	char here;

	if (sig != SIGUSR1)
		return;
	st->handled++;
	if (&here >= altstack && &here < altstack + ALTSTACK_SIZE)
		st->on_altstack++;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { 0 };
	stack_t ss = { 0 };
	uint64_t info[7];
	int mapfd, rfd;
	char *map;
	FILE *out;

	if (argc != 4)
		return 1;
	st = calloc(1, sizeof(*st));
	altstack = malloc(ALTSTACK_SIZE);
	mapfd = open(argv[1], O_RDONLY);
	rfd = open(argv[2], O_RDONLY);
	out = fopen(argv[3], "w");
	if (!st || !altstack || mapfd < 0 || rfd < 0 || !out)
		return 2;
	if (setvbuf(out, NULL, _IOFBF, 1 << 16))
		return 3;
	map = mmap(NULL, MAP_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE, mapfd, 0);
	if (map == MAP_FAILED)
		return 4;
	close(mapfd);
	/* the private change: part of the second page */
	memcpy(map + 4096 + 100, "changed privately", 17);

	ss.ss_sp = altstack;
	ss.ss_size = ALTSTACK_SIZE;
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaltstack(&ss, NULL) || sigaction(SIGUSR1, &sa, NULL))
		return 5;

	info[0] = (uintptr_t)&st->step;
	info[1] = (uintptr_t)&st->quit;
	info[2] = (uintptr_t)&st->handled;
	info[3] = (uintptr_t)&st->on_altstack;
	info[4] = (uintptr_t)st->last;
	info[5] = (uintptr_t)map;
	info[6] = (uintptr_t)altstack;
	if (write(3, info, sizeof(info)) != sizeof(info))
		return 6;
	close(3);
	for (;;) {
		st->step++;
		if (read(rfd, st->last, sizeof(st->last)) != sizeof(st->last))
			return 7;
		fprintf(out, "step %ld\n", st->step);
		if (st->quit) {
			fclose(out);
			exit(42);
		}
		raise(SIGSTOP);
	}
}
