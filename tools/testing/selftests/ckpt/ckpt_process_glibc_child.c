// SPDX-License-Identifier: GPL-2.0
/*
 * The static glibc child of ckpt_process_restart_test: counts in a TLS
 * variable (fs base), in the brk heap and in calls to clock_gettime() that
 * glibc makes through the vDSO (at the address it found at startup), and
 * stops itself after each step; exits with 42 at the step that finds its
 * quit flag set, with 3 if the monotonic clock went backwards. At start it
 * writes the addresses of the TLS counter, the heap word, the quit flag and
 * the clock counter to fd 3 and closes it.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static __thread volatile long tls_counter;
static volatile long quit, clock_calls;

int main(void)
{
	volatile long *heap = sbrk(4096);
	uint64_t info[4] = { (uintptr_t)&tls_counter, (uintptr_t)heap, (uintptr_t)&quit,
			     (uintptr_t)&clock_calls };
	struct timespec last = { 0 }, now;

	if (heap == (void *)-1 || write(3, info, sizeof(info)) != sizeof(info))
		return 1;
	close(3);
	for (;;) {
		tls_counter++;
		heap[0]++;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec < last.tv_sec)
			_exit(3);
		last = now;
		clock_calls++;
		if (quit)
			_exit(42);
		kill(getpid(), SIGSTOP);
	}
}
