// SPDX-License-Identifier: GPL-2.0
/*
 * ckptc: the smallest complete user of the /dev/ckpt ABI, in C, with nothing
 * but the UAPI header. Documentation/ioctl-abi.rst quotes it.
 *
 *   ckptc self IMAGE           checkpoint this process (fds 0-2 external)
 *   ckptc pid PID IMAGE        seize PID, stop it, checkpoint it, let it go
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/ckpt.h>

static int checkpoint(pid_t pid, const char *image)
{
	struct ckpt_checkpoint args;
	int external[5] = { 0, 1, 2 };
	char log[256] = "";
	int dev, out, rc;

	dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	out = open(image, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (dev < 0 || out < 0) {
		perror(dev < 0 ? "/dev/ckpt" : image);
		return 1;
	}
	/* stdio and our own two fds are not part of the checkpointed state */
	external[3] = dev;
	external[4] = out;
	memset(&args, 0, sizeof(args));
	args.fd = out;
	args.pid = pid;
	args.external_fds = (__u64)(unsigned long)external;
	args.nr_external_fds = pid ? 3 : 5;
	args.log_buf = (__u64)(unsigned long)log;
	args.log_size = sizeof(log);
	rc = ioctl(dev, CKPT_IOC_CHECKPOINT, &args);
	if (rc < 0) {
		/* the kernel names the fd at fault and why: "fd 7: pipe: ..." */
		fprintf(stderr, "ckptc: %s (%s, reason %u)\n", log, strerror(errno), args.reason);
		return 1;
	}
	printf("%llu bytes, %llu records\n", (unsigned long long)args.bytes,
	       (unsigned long long)args.records);
	return 0;
}

int main(int argc, char **argv)
{
	pid_t pid;
	int status, rc;

	if (argc == 3 && !strcmp(argv[1], "self"))
		return checkpoint(0, argv[2]);
	if (argc != 4 || strcmp(argv[1], "pid")) {
		fprintf(stderr, "usage: ckptc self IMAGE | ckptc pid PID IMAGE\n");
		return 2;
	}
	/* Only a tracer may checkpoint another process, and only while it is stopped. */
	pid = atoi(argv[2]);
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) || ptrace(PTRACE_INTERRUPT, pid, 0, 0) ||
	    waitpid(pid, &status, __WALL) != pid) {
		perror("ptrace");
		return 1;
	}
	rc = checkpoint(pid, argv[3]);
	ptrace(PTRACE_DETACH, pid, 0, 0);
	return rc;
}
