// SPDX-License-Identifier: GPL-2.0
/*
 * ckptc: the smallest complete user of the /dev/ckpt ABI, in C, with nothing
 * but the UAPI header. Documentation/ioctl-abi.rst quotes it.
 *
 *   ckptc self IMAGE           checkpoint this process (fds 0-2 external)
 *   ckptc pid PID IMAGE        seize PID, stop it, checkpoint it, let it go
 *   ckptc restore FD [CMD...]  restore the fds of the image read from FD into
 *                              this process, then exec CMD: ckptc restore 9 9<IMAGE
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

static int restore(int fd, char **cmd)
{
	struct ckpt_restart args;
	char log[1024] = "";
	int low, dev;

	/*
	 * Our own fds must not sit at numbers the image restores (fd_busy):
	 * move /dev/ckpt high up, and let CMD inherit neither it nor the image.
	 */
	low = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	dev = low < 0 ? -1 : fcntl(low, F_DUPFD_CLOEXEC, 900);
	if (low >= 0)
		close(low);
	if (dev < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC)) {
		perror(dev < 0 ? "/dev/ckpt" : "image fd");
		return 1;
	}
	memset(&args, 0, sizeof(args));
	args.fd = fd;
	args.log_buf = (__u64)(unsigned long)log;
	args.log_size = sizeof(log);
	if (ioctl(dev, CKPT_IOC_RESTART, &args) < 0) {
		/* nothing changed; the kernel says why: "fd 5: /data/log: size changed ..." */
		fprintf(stderr, "ckptc: %s (%s, reason %u, fd %d)\n", log, strerror(errno),
			args.reason, args.err_fd);
		return 1;
	}
	fprintf(stderr, "ckptc: %u fds restored, %u external kept\n", args.nr_fds, args.nr_external);
	if (!cmd[0])
		return 0;
	execvp(cmd[0], cmd);
	perror(cmd[0]);
	return 127;
}

int main(int argc, char **argv)
{
	pid_t pid;
	int status, rc;

	if (argc == 3 && !strcmp(argv[1], "self"))
		return checkpoint(0, argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "restore"))
		return restore(atoi(argv[2]), argv + 3);
	if (argc != 4 || strcmp(argv[1], "pid")) {
		fprintf(stderr, "usage: ckptc self IMAGE | ckptc pid PID IMAGE | ckptc restore FD [CMD...]\n");
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
