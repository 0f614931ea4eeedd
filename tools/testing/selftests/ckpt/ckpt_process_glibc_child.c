// SPDX-License-Identifier: GPL-2.0
/*
 * The static glibc child of ckpt_process_restart_test: counts in a TLS
 * variable (fs base), in the brk heap and in calls to clock_gettime() that
 * glibc makes through the vDSO (at the address it found at startup), and
 * stops itself after each step; exits with 42 at the step that finds its
 * quit flag set, with 3 if the monotonic clock went backwards.
 *
 * Its signal and task state is set at start for the restart to restore: a
 * SIGUSR1 handler (SA_RESTART | SA_SIGINFO | SA_ONSTACK, SIGUSR2 in its mask)
 * counting its calls and those that ran on the alternate stack, SIGINT
 * ignored, SIGUSR2 blocked, an alternate signal stack, umask 027, a soft
 * RLIMIT_NOFILE of 64; its rseq area, robust list and tid address are
 * glibc's. It writes the addresses of the TLS counter, the heap word, the
 * quit flag, the clock counter and the two handler counters to fd 3 and
 * closes it.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static __thread volatile long tls_counter;
static volatile long quit, clock_calls, handled, on_altstack;
static char altstack[64 * 1024] __attribute__((aligned(16)));

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	char here;

	(void)si;
	(void)uc;
	if (sig != SIGUSR1)
		return;
	handled++;
	if (&here >= altstack && &here < altstack + sizeof(altstack))
		on_altstack++;
}

static int signal_state(void)
{
	struct sigaction sa = { 0 };
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	struct rlimit rl;
	sigset_t block;

	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_RESTART | SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	if (sigaction(SIGUSR1, &sa, NULL) || signal(SIGINT, SIG_IGN) == SIG_ERR)
		return -1;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &block, NULL) || sigaltstack(&ss, NULL))
		return -1;
	umask(027);
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -1;
	rl.rlim_cur = 64;
	return setrlimit(RLIMIT_NOFILE, &rl);
}

int main(void)
{
	volatile long *heap = sbrk(4096);
	uint64_t info[6] = { (uintptr_t)&tls_counter, (uintptr_t)heap, (uintptr_t)&quit,
			     (uintptr_t)&clock_calls, (uintptr_t)&handled,
			     (uintptr_t)&on_altstack };
	struct timespec last = { 0 }, now;

	if (heap == (void *)-1 || signal_state() || write(3, info, sizeof(info)) != sizeof(info))
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
