/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ckpt: checkpoint/restart of Linux processes - user-space ABI.
 *
 * This header is the one source of truth for the ioctl ABI of /dev/ckpt.
 * The module's Rust structs are generated from it with bindgen at build time
 * and the ioctl numbers are derived from the generated struct sizes, so the
 * two cannot drift apart. See Documentation/ioctl-abi.rst.
 *
 * Every ioctl argument is an *extensible struct* (the copy_struct_from_user()
 * convention of clone3(), openat2() and PIDFD_GET_INFO): the size user space
 * was built with travels in the _IOC_SIZE bits of the command number.
 *   - a struct shorter than the first published version (..._SIZE_VER0)
 *     is refused with EINVAL;
 *   - a longer struct is accepted if every byte the kernel does not know is
 *     zero, else E2BIG;
 *   - output is written for min(user size, kernel size) bytes and any
 *     further user bytes are zeroed.
 * Unknown ioctl commands fail with ENOTTY.
 */
#ifndef _UAPI_LINUX_CKPT_H
#define _UAPI_LINUX_CKPT_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Bumped only for incompatible changes to the ioctl ABI. */
#define CKPT_ABI_VERSION	1

/* The ioctl type byte of /dev/ckpt (unassigned in ioctl-number.rst). */
#define CKPT_IOC_MAGIC		0xC7

/* Maximum length of ckpt_version.module_version, including the NUL. */
#define CKPT_MODULE_VERSION_LEN	32

/**
 * struct ckpt_version - argument of CKPT_IOC_VERSION
 * @flags:             in: must be 0 (reserved for future queries).
 * @abi_version:       out: CKPT_ABI_VERSION of the running module.
 * @image_version:     out: the image format version checkpoint writes.
 * @image_version_min: out: the oldest image format version restart reads.
 * @image_version_max: out: the newest image format version restart reads.
 * @module_version:    out: the module's version string, NUL-terminated.
 */
struct ckpt_version {
	__u64 flags;
	__u32 abi_version;
	__u32 image_version;
	__u32 image_version_min;
	__u32 image_version_max;
	char module_version[CKPT_MODULE_VERSION_LEN];
};

#define CKPT_VERSION_SIZE_VER0	56	/* sizeof first published struct */

#define CKPT_IOC_VERSION	_IOWR(CKPT_IOC_MAGIC, 0x00, struct ckpt_version)

/**
 * struct ckpt_env - argument of CKPT_IOC_ENV
 * @flags:    in: must be 0.
 * @buf:      in: user pointer receiving the running kernel's environment
 *            vector, encoded as the payload of an image's env_vector record
 *            (Documentation/image-format.rst). May be 0 with @buf_size 0 to
 *            ask for the size only.
 * @buf_size: in: size of @buf in bytes.
 * @len:      out: size of the encoded vector. If it exceeds @buf_size the
 *            ioctl fails with ENOSPC, @len still set, and nothing is
 *            written to @buf.
 */
struct ckpt_env {
	__u64 flags;
	__u64 buf;
	__u32 buf_size;
	__u32 len;
};

#define CKPT_ENV_SIZE_VER0	24

#define CKPT_IOC_ENV		_IOWR(CKPT_IOC_MAGIC, 0x01, struct ckpt_env)

/* Why CKPT_IOC_CHECKPOINT or CKPT_IOC_RESTART failed (the .reason fields). */
enum ckpt_reason {
	CKPT_REASON_NONE		= 0,	/* success, or an errno says it all */
	CKPT_REASON_BAD_ARGUMENT	= 1,	/* a field of the struct is invalid */
	CKPT_REASON_TARGET		= 2,	/* pid not found, not ptrace-stopped by the caller */
	CKPT_REASON_UNSUPPORTED_FILE	= 3,	/* err_fd has no checkpoint implementation */
	CKPT_REASON_UNLINKED_FILE	= 4,	/* err_fd is open on a deleted file */
	CKPT_REASON_PATH_UNREACHABLE	= 5,	/* err_fd's path is outside the task's root */
	CKPT_REASON_TOO_LARGE		= 6,	/* a path, handle or table exceeds the image limits */
	CKPT_REASON_OUTPUT		= 7,	/* writing the image to fd failed */
	CKPT_REASON_INTERRUPTED		= 8,	/* a fatal signal arrived while writing or reading */
	/* restart only: */
	CKPT_REASON_BAD_IMAGE		= 9,	/* malformed or inconsistent image (EBADMSG) */
	CKPT_REASON_IMAGE_VERSION	= 10,	/* image format version not supported (ENOEXEC) */
	CKPT_REASON_ENV_MISMATCH	= 11,	/* environment or task vector incompatible (ENOEXEC) */
	CKPT_REASON_FILE_MISSING	= 12,	/* err_fd's file no longer exists (ENOENT, ESTALE) */
	CKPT_REASON_FILE_REPLACED	= 13,	/* another file is at err_fd's path (ESTALE) */
	CKPT_REASON_FILE_CHANGED	= 14,	/* err_fd's file changed size or mtime (ESTALE) */
	CKPT_REASON_FILE_ACCESS		= 15,	/* opening err_fd's file failed (EACCES, EPERM...) */
	CKPT_REASON_FD_BUSY		= 16,	/* err_fd is open in the caller (EBUSY) */
	CKPT_REASON_EXTERNAL_MISSING	= 17,	/* external err_fd is not open in the caller (EBADF) */
	CKPT_REASON_INPUT		= 18,	/* reading the image from fd failed */
	/* checkpoint of a whole process: */
	CKPT_REASON_UNSUPPORTED_MEMORY	= 19,	/* a mapping of a kind not supported yet (EOPNOTSUPP) */
	CKPT_REASON_UNSUPPORTED_STATE	= 20,	/* process state not supported yet: seccomp, timers... */
};

/**
 * struct ckpt_checkpoint - argument of CKPT_IOC_CHECKPOINT
 * @flags:           in: CKPT_CHECKPOINT_* flags.
 * @fd:              in: where the image is written, sequentially: a regular
 *                   file (from its current offset), a pipe or a socket.
 * @pid:             in: the task to checkpoint, in the caller's pid
 *                   namespace; 0 is the caller itself. Any other task must be
 *                   ptrace-attached by the caller and stopped.
 * @external_fds:    in: user pointer to an array of @nr_external_fds __s32
 *                   fd numbers of the target that the caller declares
 *                   external: recorded by number and kind only, supplied by
 *                   the restorer on restart.
 * @nr_external_fds: in: number of entries at @external_fds (at most 1024).
 * @log_size:        in: size of @log_buf.
 * @log_buf:         in: user pointer (may be 0) that receives, on failure, a
 *                   NUL-terminated one-line message such as
 *                   "fd 7: pipe: no checkpoint implementation".
 * @bytes:           out: bytes of image written.
 * @records:         out: records written (the terminator included).
 * @err_fd:          out: the target's fd that made the checkpoint fail, or -1.
 * @reason:          out: enum ckpt_reason.
 */
struct ckpt_checkpoint {
	__u64 flags;
	__s32 fd;
	__s32 pid;
	__u64 external_fds;
	__u32 nr_external_fds;
	__u32 log_size;
	__u64 log_buf;
	__u64 bytes;
	__u64 records;
	__s32 err_fd;
	__u32 reason;
};

/* ckpt_checkpoint.flags */
/* Also write the process state after the task: mapped files, mm, mappings, pages. */
#define CKPT_CHECKPOINT_PROCESS		(1ULL << 0)
/*
 * Save the contents of unlinked files (tmpfs, ext2/3/4) and memfds instead of
 * refusing them: at most 64 MiB of data per file (holes excluded) unless
 * CKPT_CHECKPOINT_CONTENTS_UNLIMITED; a larger one fails with EFBIG.
 */
#define CKPT_CHECKPOINT_FILE_CONTENTS	(1ULL << 1)
#define CKPT_CHECKPOINT_CONTENTS_UNLIMITED	(1ULL << 2)
#define CKPT_CHECKPOINT_FLAGS_ALL	(CKPT_CHECKPOINT_PROCESS | CKPT_CHECKPOINT_FILE_CONTENTS | \
					 CKPT_CHECKPOINT_CONTENTS_UNLIMITED)

#define CKPT_CHECKPOINT_SIZE_VER0	64
#define CKPT_MAX_EXTERNAL_FDS		1024

#define CKPT_IOC_CHECKPOINT	_IOWR(CKPT_IOC_MAGIC, 0x02, struct ckpt_checkpoint)

/* ckpt_restart.flags */
/* Close the caller's open fds at the image's fd numbers instead of failing with EBUSY. */
#define CKPT_RESTART_REPLACE_FDS	(1ULL << 0)
/* Accept files whose size or mtime changed since the checkpoint (identity is always checked). */
#define CKPT_RESTART_IGNORE_CONTENT	(1ULL << 1)
/* Accept advisory (non-critical) environment mismatches; critical ones always refuse. */
#define CKPT_RESTART_ACCEPT_ADVISORY	(1ULL << 2)
#define CKPT_RESTART_FLAGS_ALL		(CKPT_RESTART_REPLACE_FDS | CKPT_RESTART_IGNORE_CONTENT | \
					 CKPT_RESTART_ACCEPT_ADVISORY)

/*
 * Most bytes of an image restart holds in memory (bytes; more: EFBIG). Page
 * data and file contents are not held: they stream to a spool bounded by the
 * caller's soft RLIMIT_AS and RLIMIT_FSIZE (more: EFBIG too); each PAGES and
 * FILE_DATA record counts 40 bytes against this bound.
 */
#define CKPT_RESTART_MAX_IMAGE		(64U << 20)

/**
 * struct ckpt_restart - argument of CKPT_IOC_RESTART
 * @flags:       in: CKPT_RESTART_* flags.
 * @fd:          in: the image, read sequentially up to its terminator: a
 *               regular file (from its current offset), a pipe or a socket.
 * @log_size:    in: size of @log_buf.
 * @log_buf:     in: user pointer (may be 0) that receives, on failure, a
 *               NUL-terminated message such as "fd 3: /data/log: size
 *               changed (4096 -> 8192)"; an environment mismatch lists
 *               every mismatching entry, separated by "; ".
 * @bytes:       out: bytes of image read.
 * @err_record:  out: object id of the record at fault, or 0.
 * @nr_fds:      out: fds installed in the caller (external fds excluded).
 * @err_fd:      out: the image's fd number at fault, or -1.
 * @reason:      out: enum ckpt_reason.
 * @nr_external: out: external fds of the image (kept from the caller).
 *
 * Restores the image's file table into the calling process: every file is
 * reopened with the caller's credentials and installed at its original fd
 * number, or nothing is (see Documentation/restart.rst).
 */
struct ckpt_restart {
	__u64 flags;
	__s32 fd;
	__u32 log_size;
	__u64 log_buf;
	__u64 bytes;
	__u64 err_record;
	__u32 nr_fds;
	__s32 err_fd;
	__u32 reason;
	__u32 nr_external;
};

#define CKPT_RESTART_SIZE_VER0		56

#define CKPT_IOC_RESTART	_IOWR(CKPT_IOC_MAGIC, 0x03, struct ckpt_restart)

/*
 * Whole-process restart (Documentation/restart.rst, "Restarting a whole
 * process"). These ckpt_restart.flags are not in CKPT_RESTART_FLAGS_ALL,
 * whose lenient flags apply to file-table restarts.
 */
/* Phase A: validate a process image and keep the plan in this open file; nothing is changed. */
#define CKPT_RESTART_PROCESS		(1ULL << 3)
/* Restore an image whose recorded uid/gid set differs from the caller's, as the caller. */
#define CKPT_RESTART_AS_CALLER		(1ULL << 4)
#define CKPT_RESTART_PROCESS_FLAGS	(CKPT_RESTART_PROCESS | CKPT_RESTART_AS_CALLER)

/**
 * struct ckpt_restart_commit - argument of CKPT_IOC_RESTART_COMMIT
 * @flags:    in: must be 0.
 * @log_buf:  in: user pointer (may be 0) receiving a NUL-terminated message
 *            if the commit is refused before its point of no return.
 * @log_size: in: size of @log_buf.
 * @reserved: in: must be 0.
 *
 * Phase B of a whole-process restart: the calling process becomes the process
 * of the image validated by CKPT_IOC_RESTART with CKPT_RESTART_PROCESS on the
 * same open file of /dev/ckpt. On success the ioctl does not return to its
 * caller: the process continues where the image's stopped. Refused (the
 * caller intact) only before the point of no return (no plan: EINVAL;
 * another thread or process shares the address space or fd table: EBUSY);
 * after it, a failure kills the caller with SIGKILL, the reason logged.
 */
struct ckpt_restart_commit {
	__u64 flags;
	__u64 log_buf;
	__u32 log_size;
	__u32 reserved;
};

#define CKPT_RESTART_COMMIT_SIZE_VER0	24

#define CKPT_IOC_RESTART_COMMIT	_IOWR(CKPT_IOC_MAGIC, 0x04, struct ckpt_restart_commit)

#endif /* _UAPI_LINUX_CKPT_H */
