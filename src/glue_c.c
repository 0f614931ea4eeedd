// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt: the C glue, only what Rust cannot reach, each function's reason first.
 * Rust calls it through src/ffi.rs (generated from glue_c.h) in safe wrappers
 * (glue.rs, vfs.rs, env.rs), which document the results.
 */

#include <linux/crc32.h>
#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/debugfs.h>
#include <linux/exportfs.h>
#include <linux/fault-inject.h>
#include <linux/fdtable.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/shmem_fs.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/nsproxy.h>
#include <linux/ptrace.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/sched/task_stack.h>
#include <linux/utsname.h>

#include <asm/cpuid/api.h>
#include <asm/fpu/types.h>

#include "glue_c.h"

/* The values glue_c.h gives Rust for the FMODE_* bits. */
#define CKPT_FMODE_IS(x) static_assert((__force u32)FMODE_##x == CKPT_FMODE_##x)
CKPT_FMODE_IS(READ); CKPT_FMODE_IS(WRITE); CKPT_FMODE_IS(32BITHASH); CKPT_FMODE_IS(64BITHASH);
CKPT_FMODE_IS(PATH); CKPT_FMODE_IS(ATOMIC_POS); CKPT_FMODE_IS(STREAM);

/*
 * Layouts Rust relies on, asserted against the same numbers in Rust (src/vfs.rs,
 * src/env.rs): kstat's fields vfs.rs reads; init_uts_ns.name, which env.rs
 * reaches by a cast (bindgen leaves struct uts_namespace opaque).
 */
static_assert(offsetof(struct kstat, mode) == 4 && offsetof(struct kstat, ino) == 32 &&
	      offsetof(struct kstat, dev) == 40 && offsetof(struct kstat, rdev) == 44 &&
	      offsetof(struct kstat, size) == 56 && offsetof(struct kstat, mtime) == 80 &&
	      offsetof(struct kstat, ctime) == 96 && sizeof(struct timespec64) == 16);
static_assert(offsetof(struct uts_namespace, name) == 0);

/* C: task_struct fields (kernel::bindings' task_struct layout is wrong here, see index.rst). */

/* get_nr_threads() is a static inline. */
int ckpt_glue_task_threads(struct task_struct *t)
{
	return get_nr_threads(t);
}

/* rlimit() is a static inline. The caller's RLIMIT_NOFILE soft limit. */
unsigned long ckpt_glue_nofile(void)
{
	return rlimit(RLIMIT_NOFILE);
}

/* current->files (the POSIX lock owner) is a task field. As close(2) would. */
int ckpt_glue_filp_close(struct file *file)
{
	return filp_close(file, current->files);
}

/*
 * C: set_close_on_exec() is not exported. The same bit change under the table's lock, for an
 * fd of the caller's that is reserved (get_unused_fd_flags()) and not installed yet: restart
 * changes a reservation's flag in place, because releasing the fd and reserving it again would
 * let another thread's open() take it in between.
 */
void ckpt_glue_set_reserved_cloexec(unsigned int fd, int cloexec)
{
	struct files_struct *files = current->files;
	struct fdtable *fdt;

	spin_lock(&files->file_lock);
	fdt = files_fdtable(files);
	if (cloexec)
		__set_bit(fd, fdt->close_on_exec);
	else
		__clear_bit(fd, fdt->close_on_exec);
	spin_unlock(&files->file_lock);
}

/* mm->context is arch-specific (no Rust layout). 1: a vDSO is mapped, 0: none, -ESRCH: no mm. */
int ckpt_glue_task_vdso_mapped(struct task_struct *t)
{
	struct mm_struct *mm = get_task_mm(t);
	int mapped;

	if (!mm)
		return -ESRCH;
	mapped = READ_ONCE(mm->context.vdso) != NULL;
	mmput(mm);
	return mapped;
}

/* C: pid lookup, t->parent under RCU, task_is_traced(). Others: traced by us and stopped. */
struct task_struct *ckpt_glue_get_target(int nr)
{
	struct task_struct *t;
	int err = 0;

	if (nr < 0)
		return ERR_PTR(-EINVAL);
	if (nr == 0 || nr == task_pid_vnr(current)) {
		get_task_struct(current);
		return current;
	}

	rcu_read_lock();
	t = pid_task(find_vpid(nr), PIDTYPE_PID);
	if (!t)
		err = -ESRCH;
	else if (!(READ_ONCE(t->ptrace) & PT_PTRACED) ||
		 rcu_dereference(t->parent) != current)
		err = -EPERM;
	else if (!task_is_traced(t))
		err = -EBUSY;
	else
		get_task_struct(t);
	rcu_read_unlock();
	return err ? ERR_PTR(err) : t;
}

/* C: task_lock() is an inline. Whether another process shares t's fd table (CLONE_FILES). */
int ckpt_glue_task_files_shared(struct task_struct *t)
{
	int shared = 0;

	task_lock(t);
	if (t->files)
		shared = atomic_read(&t->files->count) > 1;
	task_unlock(t);
	return shared;
}

/* C: t->real_parent under RCU, comm under task_lock(), from_kuid_munged() may be inline. */
void ckpt_glue_task_ids(struct task_struct *t, struct ckpt_glue_ids *ids)
{
	struct user_namespace *ns = current_user_ns();
	const struct cred *cred;

	rcu_read_lock();
	ids->pid = task_pid_vnr(t);
	ids->tgid = task_tgid_vnr(t);
	ids->ppid = task_tgid_vnr(rcu_dereference(t->real_parent));
	rcu_read_unlock();

	cred = get_task_cred(t);
	ids->uid = from_kuid_munged(ns, cred->uid);
	ids->gid = from_kgid_munged(ns, cred->gid);
	ids->euid = from_kuid_munged(ns, cred->euid);
	ids->egid = from_kgid_munged(ns, cred->egid);
	ids->suid = from_kuid_munged(ns, cred->suid);
	ids->sgid = from_kgid_munged(ns, cred->sgid);
	ids->fsuid = from_kuid_munged(ns, cred->fsuid);
	ids->fsgid = from_kgid_munged(ns, cred->fsgid);
	put_cred(cred);

	task_lock(t);
	strscpy_pad(ids->comm, t->comm, sizeof(ids->comm));
	task_unlock(t);
}

/* C: t->nsproxy is protected by task_lock(). The task's UTS namespace's utsname. */
int ckpt_glue_task_uts(struct task_struct *t, struct new_utsname *out)
{
	int err = -ESRCH;

	task_lock(t);
	if (t->nsproxy) {
		*out = t->nsproxy->uts_ns->name;
		err = 0;
	}
	task_unlock(t);
	return err;
}

/* C: t->fs is under task_lock(), get_fs_root()/get_fs_pwd() are static inlines. */
int ckpt_glue_task_fs(struct task_struct *t, struct path *root, struct path *pwd)
{
	task_lock(t);
	if (!t->fs) {
		task_unlock(t);
		return -ESRCH;
	}
	get_fs_root(t->fs, root);
	get_fs_pwd(t->fs, pwd);
	task_unlock(t);
	return 0;
}

/* C: close_on_exec() reads the fdtable under RCU, t->files is under task_lock(). */
int ckpt_glue_fd_cloexec(struct task_struct *t, unsigned int fd)
{
	int cloexec = 0;

	task_lock(t);
	if (t->files) {
		rcu_read_lock();
		cloexec = fd < files_fdtable(t->files)->max_fds && close_on_exec(fd, t->files);
		rcu_read_unlock();
	}
	task_unlock(t);
	return cloexec;
}

/* C: d_inode(), d_unlinked(), dentry/sb/inode fields. vfs.rs adds vfs_getattr_nosec()'s. */
int ckpt_glue_inode_facts(const struct path *path, struct ckpt_glue_inode_facts *facts)
{
	struct inode *inode = d_inode(path->dentry);
	struct super_block *sb = path->dentry->d_sb;

	memset(facts, 0, sizeof(*facts));
	facts->s_magic = sb->s_magic;
	strscpy(facts->fstype, sb->s_type->name, sizeof(facts->fstype));
	snprintf(facts->name, sizeof(facts->name), "%pd", path->dentry);
	facts->unlinked = d_unlinked(path->dentry) || (inode && inode->i_nlink == 0);
	facts->can_encode_fh = sb->s_export_op && sb->s_export_op->encode_fh;
	if (!inode)
		return -ENOENT;
	facts->generation = inode->i_generation;
	return 0;
}

/* C: fatal_signal_pending() is a static inline. */
int ckpt_glue_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

/* exportfs_decode_fh_raw()'s callback: only connected dentries have a path, unless @any. */
static int ckpt_glue_acceptable(void *any, struct dentry *dentry)
{
	return any || !(dentry->d_flags & DCACHE_DISCONNECTED);
}

/* C: <linux/exportfs.h> is not in the bindings. A dentry of @mnt's mount (see above). */
int ckpt_glue_decode_fh(const struct path *mnt, const void *handle, int len, int type,
			int any, struct path *out)
{
	u32 fid[MAX_HANDLE_SZ / 4];
	struct dentry *dentry;

	if (len <= 0 || len > MAX_HANDLE_SZ || len % 4 || type <= 0 || type >= FILEID_INVALID)
		return -EINVAL;
	memcpy(fid, handle, len);	/* aligned for the file system's decoder */
	dentry = exportfs_decode_fh_raw(mnt->mnt, (struct fid *)fid, len / 4, type, 0,
					ckpt_glue_acceptable, (void *)(unsigned long)any);
	if (IS_ERR_OR_NULL(dentry))
		return dentry ? PTR_ERR(dentry) : -ESTALE;
	out->mnt = mntget(mnt->mnt);
	out->dentry = dentry;
	return 0;
}

/* C: cpuid_count() is a static inline (paravirt-aware). out[0..4] = eax, ebx, ecx, edx. */
void ckpt_glue_cpuid_count(u32 leaf, u32 subleaf, u32 *out)
{
	cpuid_count(leaf, subleaf, &out[0], &out[1], &out[2], &out[3]);
}

/* C: x86_task_fpu() is a macro, struct fpstate is opaque. t is stopped or current. */
int ckpt_glue_task_fpu(struct task_struct *task, u64 *user_xfeatures, u32 *user_size)
{
	struct fpstate *fps;
	struct fpu *fpu;

	if (task->flags & (PF_KTHREAD | PF_USER_WORKER))
		return -EINVAL;
	fpu = x86_task_fpu(task);
	fps = fpu ? READ_ONCE(fpu->fpstate) : NULL;
	if (!fps)
		return -EINVAL;
	*user_xfeatures = fps->user_xfeatures;
	*user_size = fps->user_size;
	return 0;
}

/*
 * C: test_tsk_thread_flag(), user_64bit_mode(), task_pt_regs() are inlines. Bits: 0 x86-64,
 * 1 ia32, 2 x32. TIF_ADDR32 marks both compat ABIs; x32 runs in 64-bit mode, ia32 does not;
 * a 64-bit process in a 32-bit code segment needs both x86-64 and ia32.
 */
int ckpt_glue_task_abis(struct task_struct *task)
{
	bool addr32, mode64;

	if (task->flags & (PF_KTHREAD | PF_USER_WORKER))
		return -EINVAL;
	addr32 = test_tsk_thread_flag(task, TIF_ADDR32);
	mode64 = user_64bit_mode(task_pt_regs(task));
	if (addr32)
		return mode64 ? 1 << 2 : 1 << 1;
	return mode64 ? 1 << 0 : (1 << 0) | (1 << 1);
}

/*
 * C: DECLARE_FAULT_ATTR() is a macro; should_fail() and
 * fault_create_debugfs_attr() are static inline stubs without
 * CONFIG_FAULT_INJECTION(_DEBUG_FS), which compiles this out. Failures of the
 * install steps of a replacing restart (src/fdtable.rs), configured in
 * /sys/kernel/debug/ckpt/fail_install/ (Documentation/fault-injection/,
 * probability 0 until set). Silent by default (verbose=0): an injected
 * failure is no kernel problem for the log checks.
 */
static DECLARE_FAULT_ATTR(ckpt_fail_install);
static struct dentry *ckpt_debugfs;

void ckpt_glue_fault_init(void)
{
#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
	ckpt_fail_install.verbose = 0;
	ckpt_debugfs = debugfs_create_dir("ckpt", NULL);
	fault_create_debugfs_attr("fail_install", ckpt_debugfs, &ckpt_fail_install);
#endif
}

void ckpt_glue_fault_exit(void)
{
	debugfs_remove_recursive(ckpt_debugfs);
}

int ckpt_glue_fail_install(void)
{
	return should_fail(&ckpt_fail_install, 1);
}

/*
 * C: shmem_file(), SHMEM_I(), mapping_deny_writable() and inode_lock() are
 * inlines; memfd_fcntl() and memfd_alloc_file() are not exported.
 *
 * A memfd is a shmem file on the kernel's internal mount (MNT_INTERNAL) whose
 * name starts with "memfd:" (SysV segments and shared anonymous memory live
 * there too, under other names). Its seals are F_GET_SEALS's value.
 */
int ckpt_glue_memfd_info(struct file *file, __u32 *seals, char *name, int size)
{
	const char *dname = file->f_path.dentry->d_name.name;

	if (!shmem_file(file) || !(file->f_path.mnt->mnt_flags & MNT_INTERNAL) ||
	    strncmp(dname, "memfd:", 6))
		return -EINVAL;
	*seals = READ_ONCE(SHMEM_I(file_inode(file))->seals);
	/* the dentry of a pseudo file is never renamed: its name is stable */
	if (strscpy(name, dname + 6, size) < 0)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * C: as above. memfd_create(name, MFD_ALLOW_SEALING) as memfd_alloc_file() does it, minus
 * the LSM hook for anonymous inodes (not exported): @name includes "memfd:".
 */
struct file *ckpt_glue_memfd_create(const char *name)
{
	struct file *file = shmem_file_setup(name, 0, mk_vma_flags(VMA_NORESERVE_BIT));

	if (IS_ERR(file))
		return file;
	file->f_mode |= FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE;
	file->f_flags |= O_LARGEFILE;
	SHMEM_I(file_inode(file))->seals &= ~F_SEAL_SEAL;
	return file;
}

/*
 * C: as above. Sets the seals of a memfd created by ckpt_glue_memfd_create() and not
 * shared yet, as F_ADD_SEALS would (no page can be pinned by anyone: no
 * waiting for pins).
 */
int ckpt_glue_memfd_set_seals(struct file *file, __u32 seals)
{
	struct inode *inode = file_inode(file);
	int err = 0;

	if (!shmem_file(file))
		return -EINVAL;
	inode_lock(inode);
	if (seals & F_SEAL_WRITE)
		err = mapping_deny_writable(file->f_mapping);
	if (!err)
		SHMEM_I(inode)->seals = seals;
	inode_unlock(inode);
	return err;
}

/*
 * C: inode_lock(), d_inode() and file_mnt_idmap() are inlines.
 * Sets the size and permission bits of a file restart created and wrote: as
 * ftruncate() and fchmod() would, as the owner, without a write permission
 * check (the file may be read-only: it was opened for writing at creation).
 */
int ckpt_glue_set_size_mode(struct file *file, __s64 size, __u32 mode)
{
	struct dentry *dentry = file->f_path.dentry;
	struct inode *inode = d_inode(dentry);
	struct iattr attr = {
		.ia_valid = ATTR_SIZE | ATTR_FILE | ATTR_MODE | ATTR_MTIME | ATTR_CTIME,
		.ia_size = size,
		.ia_file = file,
		.ia_mode = (mode & S_IALLUGO) | (inode->i_mode & S_IFMT),
	};
	int err;

	if (size < 0)
		return -EINVAL;
	inode_lock(inode);
	err = notify_change(file_mnt_idmap(file), dentry, &attr, NULL);
	inode_unlock(inode);
	return err;
}

/*
 * C: file_user_path() is an inline. The path a user sees for @file: for the
 * backing file that overlayfs puts in a mapping (vm_file), the overlay path
 * the program mapped, as /proc/PID/maps shows it, not the real file's in a
 * lower or upper layer.
 */
const struct path *ckpt_glue_file_user_path(const struct file *file)
{
	return file_user_path(file);
}
