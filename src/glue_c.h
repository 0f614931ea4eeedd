/* SPDX-License-Identifier: GPL-2.0 */
/* ckpt: the C glue's interface, bindgen's input (src/ffi.rs) with UAPI include paths only. */
#ifndef CKPT_GLUE_C_H
#define CKPT_GLUE_C_H

#include <linux/types.h>
#include <linux/utsname.h>	/* struct new_utsname (UAPI) */

struct dentry;
struct file;
struct path;
struct task_struct;

/* A task's pids (caller's pid namespace), ids (caller's user namespace), comm. */
struct ckpt_glue_ids {
	__s32 pid, tgid, ppid;
	__u32 uid, gid, euid, egid, suid, sgid, fsuid, fsgid;
	char comm[16];
};

/* What both an open file and a looked-up path tell of their inode (vfs.rs fills the kstat part). */
struct ckpt_glue_inode_facts {
	__u64 dev, ino, rdev, s_magic;
	__s64 size, mtime_sec, ctime_sec;
	__u32 mtime_nsec, ctime_nsec, mode, generation, rdev_major, rdev_minor;
	char fstype[32];
	char name[48];		/* for messages: "[eventfd]", "null", "pipe:" */
	__u8 unlinked, can_encode_fh;
};

/* f_mode bits Rust tests: bindgen cannot evaluate FMODE_*'s __force casts. */
enum ckpt_glue_fmode {
	CKPT_FMODE_READ = 1 << 0,
	CKPT_FMODE_WRITE = 1 << 1,
	CKPT_FMODE_32BITHASH = 1 << 9,
	CKPT_FMODE_64BITHASH = 1 << 10,
	CKPT_FMODE_PATH = 1 << 14,
	CKPT_FMODE_ATOMIC_POS = 1 << 15,
	CKPT_FMODE_STREAM = 1 << 21,
};

/* task_struct fields (see glue_c.c) */
int ckpt_glue_task_threads(struct task_struct *t);
unsigned long ckpt_glue_nofile(void);
int ckpt_glue_filp_close(struct file *file);
void ckpt_glue_set_reserved_cloexec(unsigned int fd, int cloexec);
int ckpt_glue_task_vdso_mapped(struct task_struct *t);

/* checkpoint (src/glue.rs) */
struct task_struct *ckpt_glue_get_target(int nr);
int ckpt_glue_task_files_shared(struct task_struct *t);
void ckpt_glue_task_ids(struct task_struct *t, struct ckpt_glue_ids *ids);
int ckpt_glue_task_uts(struct task_struct *t, struct new_utsname *out);
int ckpt_glue_task_fs(struct task_struct *t, struct path *root, struct path *pwd);
int ckpt_glue_fd_cloexec(struct task_struct *t, unsigned int fd);
int ckpt_glue_inode_facts(const struct path *path, struct ckpt_glue_inode_facts *facts);
int ckpt_glue_fatal_signal_pending(void);

/*
 * The kernel's own functions whose headers the bindings lack (<linux/namei.h>,
 * <linux/exportfs.h>, <linux/crc32.h>): glue_c.c's compiler checks these
 * prototypes. src/vfs.rs; crc32c(): src/glue.rs.
 */
u32 crc32c(u32 crc, const void *p, size_t len);
int kern_path(const char *name, unsigned int flags, struct path *path);
struct fid;	/* <linux/exportfs.h>'s, opaque (not a kernel::bindings type) */
int exportfs_encode_fh(struct dentry *dentry, struct fid *fid, int *max_len, int flags);

/* restart (src/vfs.rs) */
int ckpt_glue_decode_fh(const struct path *mnt, const void *handle, int len, int type,
			int any, struct path *out);

/* environment vectors (src/env.rs) */
void ckpt_glue_cpuid_count(__u32 leaf, __u32 subleaf, __u32 *out);
int ckpt_glue_task_fpu(struct task_struct *task, __u64 *user_xfeatures, __u32 *user_size);
int ckpt_glue_task_abis(struct task_struct *task);

/* fault injection (src/ckpt_main.rs, src/fdtable.rs) */
void ckpt_glue_fault_init(void);
void ckpt_glue_fault_exit(void);
int ckpt_glue_fail_install(void);

/* file kinds with contents (src/files/) */
int ckpt_glue_memfd_info(struct file *file, __u32 *seals, char *name, int size);
struct file *ckpt_glue_memfd_create(const char *name);
int ckpt_glue_memfd_set_seals(struct file *file, __u32 seals);
int ckpt_glue_set_size_mode(struct file *file, __s64 size, __u32 mode);

/* mapped files (src/vfs.rs) */
const struct path *ckpt_glue_file_user_path(const struct file *file);

#endif /* CKPT_GLUE_C_H */
