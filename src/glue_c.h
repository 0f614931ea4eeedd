/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ckpt: the C glue's interface (src/glue_c.c). src/glue.rs mirrors these
 * declarations; the structs hold only fixed-size fields and both sides
 * assert their sizes.
 */
#ifndef CKPT_GLUE_C_H
#define CKPT_GLUE_C_H

#include <linux/types.h>
#include <linux/utsname.h>

struct file;
struct new_utsname;
struct path;
struct task_struct;

struct ckpt_glue_ids {
	s32 pid, tgid, ppid;
	u32 uid, gid, euid, egid, suid, sgid, fsuid, fsgid;
	char comm[16];
	u32 reserved;
};

struct ckpt_glue_file_facts {
	u64 dev, ino, rdev;
	s64 size, pos;
	s64 mtime_sec, ctime_sec;
	u32 mtime_nsec, ctime_nsec;
	u32 mode, f_flags, f_mode, generation;
	u32 rdev_major, rdev_minor;
	u64 s_magic;
	char fstype[32];
	char name[48];
	u8 unlinked, o_path, hash32, hash64, can_encode_fh;
	u8 reserved[3];
};

static_assert(sizeof(struct ckpt_glue_ids) == 64);
/* src/glue.rs mirrors struct new_utsname as UtsName */
static_assert(sizeof(struct new_utsname) == 390);
static_assert(sizeof(struct ckpt_glue_file_facts) == 184);

struct task_struct *ckpt_glue_get_target(pid_t nr);
int ckpt_glue_task_threads(struct task_struct *t);
bool ckpt_glue_task_files_shared(struct task_struct *t);
void ckpt_glue_task_ids(struct task_struct *t, struct ckpt_glue_ids *ids);
int ckpt_glue_task_uts(struct task_struct *t, struct new_utsname *out);
int ckpt_glue_task_fs(struct task_struct *t, struct path *root, struct path *pwd);
void ckpt_glue_path_put(struct path *path);
int ckpt_glue_path_string(const struct path *path, const struct path *root,
			  char *buf, int size);
struct file *ckpt_glue_next_file(struct task_struct *t, unsigned int *fd, bool *cloexec);
void ckpt_glue_fput(struct file *file);
const struct path *ckpt_glue_file_path(struct file *file);
int ckpt_glue_file_facts(struct file *file, struct ckpt_glue_file_facts *facts);
int ckpt_glue_path_facts(const struct path *path, struct ckpt_glue_file_facts *facts);
int ckpt_glue_encode_fh(struct file *file, void *buf, int *len);
ssize_t ckpt_glue_write(struct file *file, const void *buf, size_t count);
bool ckpt_glue_fatal_signal_pending(void);
void ckpt_glue_real_time(s64 *sec, u32 *nsec);

/* restart */
ssize_t ckpt_glue_read(struct file *file, void *buf, size_t count);
bool ckpt_glue_file_readable(struct file *file);
int ckpt_glue_lookup(const char *name, struct path *out);
struct file *ckpt_glue_open(const char *name, int flags);
int ckpt_glue_decode_fh(const struct path *mnt, const void *handle, int len, int type,
			bool any, struct path *out);
bool ckpt_glue_may_open_by_handle(void);
struct file *ckpt_glue_open_path(const struct path *path, int flags);
void ckpt_glue_current_root(struct path *root);
loff_t ckpt_glue_llseek(struct file *file, loff_t pos);
void ckpt_glue_set_restored_flags(struct file *file, unsigned int flags, unsigned int mask,
				  int hash_bits);
unsigned long ckpt_glue_nofile(void);
bool ckpt_glue_fd_is_open(unsigned int fd);
int ckpt_glue_reserve_fd(bool cloexec);
void ckpt_glue_unreserve_fd(unsigned int fd);
void ckpt_glue_install_fd(unsigned int fd, struct file *file);
struct file *ckpt_glue_take_fd(unsigned int fd);
void ckpt_glue_close_taken(struct file *file);
bool ckpt_glue_fd_cloexec(unsigned int fd);

#endif /* CKPT_GLUE_C_H */
