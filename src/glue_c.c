// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt: C glue for what the kernel crate does not wrap and bindgen cannot
 * see (static inlines, macros, locking rules spelled in C). Each function is
 * small, takes and returns plain data, and is wrapped by a safe Rust API in
 * src/glue.rs; nothing else calls it. (Named glue_c, not glue, so that the
 * kernel's rust-analyzer support does not take glue.rs for a crate root.)
 */

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/err.h>
#include <linux/exportfs.h>
#include <linux/fcntl.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/path.h>
#include <linux/pid.h>
#include <linux/ptrace.h>
#include <linux/resource.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/stat.h>
#include <linux/string.h>
#include <linux/uidgid.h>

#include "glue_c.h"

/*
 * The task to checkpoint, referenced. pid 0 is the caller. Any other task
 * must be traced by the caller (it passed ptrace's access checks, LSMs and
 * Yama included, when it attached) and stopped in a ptrace stop, so that it
 * cannot run, and so change, while it is being checkpointed.
 */
struct task_struct *ckpt_glue_get_target(pid_t nr)
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

/* Threads sharing the fd table could change it under us. */
int ckpt_glue_task_threads(struct task_struct *t)
{
	return get_nr_threads(t);
}

/*
 * Whether another process shares the task's fd table (clone(CLONE_FILES)
 * without CLONE_THREAD): it runs, and could change the table under us.
 */
bool ckpt_glue_task_files_shared(struct task_struct *t)
{
	bool shared = false;

	task_lock(t);
	if (t->files)
		shared = atomic_read(&t->files->count) > 1;
	task_unlock(t);
	return shared;
}

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

/* The utsname of the task's UTS namespace. */
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

/*
 * The task's cwd and root, referenced. Fails with -EXDEV if the task's root
 * is not the caller's: paths are then not expressible the way restart will
 * resolve them.
 */
int ckpt_glue_task_fs(struct task_struct *t, struct path *root, struct path *pwd)
{
	struct path my_root;
	int err = 0;

	task_lock(t);
	if (!t->fs) {
		task_unlock(t);
		return -ESRCH;
	}
	get_fs_root(t->fs, root);
	get_fs_pwd(t->fs, pwd);
	task_unlock(t);

	get_fs_root(current->fs, &my_root);
	if (!path_equal(root, &my_root))
		err = -EXDEV;
	path_put(&my_root);
	if (err) {
		path_put(root);
		path_put(pwd);
	}
	return err;
}

void ckpt_glue_path_put(struct path *path)
{
	path_put(path);
}

/*
 * The path of @path as seen from @root, into @buf (not NUL-terminated).
 * Returns its length, -EXDEV if it is not under @root, -ENAMETOOLONG.
 */
int ckpt_glue_path_string(const struct path *path, const struct path *root,
			  char *buf, int size)
{
	char *p;
	int len;

	if (!path_is_under((struct path *)path, (struct path *)root))
		return -EXDEV;
	p = d_path(path, buf, size);
	if (IS_ERR(p))
		return PTR_ERR(p);
	len = buf + size - 1 - p;	/* d_path writes a NUL at the end */
	memmove(buf, p, len);
	return len;
}

/* The next open file of @t at or after *@fd, referenced, or NULL. */
struct file *ckpt_glue_next_file(struct task_struct *t, unsigned int *fd, bool *cloexec)
{
	struct file *file = fget_task_next(t, fd);

	*cloexec = false;
	if (file) {
		task_lock(t);
		if (t->files) {
			rcu_read_lock();
			*cloexec = close_on_exec(*fd, t->files);
			rcu_read_unlock();
		}
		task_unlock(t);
	}
	return file;
}

void ckpt_glue_fput(struct file *file)
{
	fput(file);
}

const struct path *ckpt_glue_file_path(struct file *file)
{
	return &file->f_path;
}

/* What both an open file and a looked-up path tell of their inode. */
static int ckpt_glue_inode_facts(const struct path *path, struct ckpt_glue_file_facts *facts)
{
	struct inode *inode = d_inode(path->dentry);
	struct super_block *sb = path->dentry->d_sb;
	struct kstat st;
	int err;

	facts->s_magic = sb->s_magic;
	strscpy(facts->fstype, sb->s_type->name, sizeof(facts->fstype));
	/* for messages: "[eventfd]", "null", "pipe:" ... (%pd is rename-safe) */
	snprintf(facts->name, sizeof(facts->name), "%pd", path->dentry);
	facts->unlinked = d_unlinked(path->dentry) || (inode && inode->i_nlink == 0);
	facts->can_encode_fh = sb->s_export_op && sb->s_export_op->encode_fh;
	if (!inode)
		return -ENOENT;
	facts->generation = inode->i_generation;

	err = vfs_getattr_nosec(path, &st, STATX_BASIC_STATS, AT_STATX_SYNC_AS_STAT);
	if (err)
		return err;
	facts->mode = st.mode;
	facts->dev = huge_encode_dev(st.dev);
	facts->ino = st.ino;
	facts->rdev = huge_encode_dev(st.rdev);
	facts->rdev_major = MAJOR(st.rdev);
	facts->rdev_minor = MINOR(st.rdev);
	facts->size = st.size;
	facts->mtime_sec = st.mtime.tv_sec;
	facts->mtime_nsec = st.mtime.tv_nsec;
	facts->ctime_sec = st.ctime.tv_sec;
	facts->ctime_nsec = st.ctime.tv_nsec;
	return 0;
}

int ckpt_glue_file_facts(struct file *file, struct ckpt_glue_file_facts *facts)
{
	memset(facts, 0, sizeof(*facts));
	facts->f_flags = file->f_flags;
	facts->f_mode = (__force u32)file->f_mode;
	facts->pos = file->f_pos;
	facts->o_path = !!(file->f_mode & FMODE_PATH);
	facts->hash64 = !!(file->f_mode & FMODE_64BITHASH);
	facts->hash32 = !!(file->f_mode & FMODE_32BITHASH);
	return ckpt_glue_inode_facts(&file->f_path, facts);
}

int ckpt_glue_path_facts(const struct path *path, struct ckpt_glue_file_facts *facts)
{
	memset(facts, 0, sizeof(*facts));
	return ckpt_glue_inode_facts(path, facts);
}

/*
 * An exportfs handle for @file's inode: its bytes into @buf (at most *@len
 * bytes), the handle type as return value (> 0), or a negative errno.
 */
int ckpt_glue_encode_fh(struct file *file, void *buf, int *len)
{
	int words = *len / 4;
	int type;

	type = exportfs_encode_fh(file->f_path.dentry, buf, &words, 0);
	if (type == FILEID_INVALID || words * 4 > *len)
		return -EOVERFLOW;
	if (type < 0)
		return type;
	*len = words * 4;
	return type;
}

/*
 * Write @count bytes at the file's position (none for streams), as write(2)
 * would. Sleeps; returns bytes written or a negative errno.
 */
ssize_t ckpt_glue_write(struct file *file, const void *buf, size_t count)
{
	loff_t pos = 0, *ppos = (file->f_mode & FMODE_STREAM) ? NULL : &pos;
	ssize_t ret;

	if (ppos)
		pos = file->f_pos;
	ret = kernel_write(file, buf, count, ppos);
	if (ppos && ret > 0)
		file->f_pos = pos;
	return ret;
}

bool ckpt_glue_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

void ckpt_glue_real_time(s64 *sec, u32 *nsec)
{
	struct timespec64 ts;

	ktime_get_real_ts64(&ts);
	*sec = ts.tv_sec;
	*nsec = ts.tv_nsec;
}

/* ---- restart ---- */

/*
 * Read up to @count bytes at the file's position (none for streams), as
 * read(2) would. Sleeps; returns bytes read (0 at end of file) or -errno.
 */
ssize_t ckpt_glue_read(struct file *file, void *buf, size_t count)
{
	loff_t pos = 0, *ppos = (file->f_mode & FMODE_STREAM) ? NULL : &pos;
	ssize_t ret;

	if (ppos)
		pos = file->f_pos;
	ret = kernel_read(file, buf, count, ppos);
	if (ppos && ret > 0)
		file->f_pos = pos;
	return ret;
}

/* Whether @file was opened for reading. */
bool ckpt_glue_file_readable(struct file *file)
{
	return file->f_mode & FMODE_READ;
}

/*
 * Look @name up as open(2) would from the caller (its root and cwd), without
 * following a symbolic link in the last component, and with the caller's
 * credentials for search permission. Referenced into @out.
 */
int ckpt_glue_lookup(const char *name, struct path *out)
{
	return kern_path(name, 0, out);
}

/* Open @name with the caller's credentials, as open(2) with @flags would. */
struct file *ckpt_glue_open(const char *name, int flags)
{
	return filp_open(name, flags, 0);
}

/* Only connected dentries have a path to open them by. */
static int ckpt_glue_connected(void *context, struct dentry *dentry)
{
	return !(dentry->d_flags & DCACHE_DISCONNECTED);
}

static int ckpt_glue_any_dentry(void *context, struct dentry *dentry)
{
	return 1;
}

/*
 * Find the inode of the exportfs handle @handle (@len bytes, type @type) on
 * the file system mounted at @mnt->mnt, referenced into @out: a connected
 * dentry of that mount, or with @any possibly a disconnected one (a file
 * whose dentry left the dcache and whose handle names no parent). -ESTALE
 * if the inode is gone (or its generation differs), -EINVAL for a handle
 * the file system does not accept.
 */
int ckpt_glue_decode_fh(const struct path *mnt, const void *handle, int len, int type,
			bool any, struct path *out)
{
	u32 fid[MAX_HANDLE_SZ / 4];
	struct dentry *dentry;

	if (len <= 0 || len > MAX_HANDLE_SZ || len % 4 || type <= 0 || type >= FILEID_INVALID)
		return -EINVAL;
	memcpy(fid, handle, len);	/* aligned for the file system's decoder */
	dentry = exportfs_decode_fh_raw(mnt->mnt, (struct fid *)fid, len / 4, type, 0,
					any ? ckpt_glue_any_dentry : ckpt_glue_connected, NULL);
	if (IS_ERR_OR_NULL(dentry))
		return dentry ? PTR_ERR(dentry) : -ESTALE;
	out->mnt = mntget(mnt->mnt);
	out->dentry = dentry;
	return 0;
}

/*
 * Whether the caller may open a file found by handle alone, without a path
 * walk to it: what open_by_handle_at(2) asks (CAP_DAC_READ_SEARCH).
 */
bool ckpt_glue_may_open_by_handle(void)
{
	return capable(CAP_DAC_READ_SEARCH);
}

/*
 * Open @path itself with the caller's credentials, as open_by_handle_at(2)
 * does: may_open() and the file's own permission checks apply, no directory
 * is searched.
 */
struct file *ckpt_glue_open_path(const struct path *path, int flags)
{
	return file_open_root(path, "", flags, 0);
}

/* The caller's root directory, referenced. */
void ckpt_glue_current_root(struct path *root)
{
	get_fs_root(current->fs, root);
}

/* Reposition a freshly opened file, as lseek(fd, pos, SEEK_SET) would. */
loff_t ckpt_glue_llseek(struct file *file, loff_t pos)
{
	return vfs_llseek(file, pos, SEEK_SET);
}

/*
 * The file status flags restart restores after open: the @mask bits of
 * f_flags become those of @flags (O_NONBLOCK: files are opened with it so
 * that nothing blocks in open; O_NOFOLLOW and O_DIRECTORY: opened with them
 * for safety, kept only if recorded) and, for directories on ext2/3/4, the
 * width of the hash cookies f_pos holds (32 or 64), as nfsd sets it. The
 * file is not installed yet: nobody else sees it.
 */
void ckpt_glue_set_restored_flags(struct file *file, unsigned int flags, unsigned int mask,
				  int hash_bits)
{
	spin_lock(&file->f_lock);
	file->f_flags = (file->f_flags & ~mask) | (flags & mask);
	spin_unlock(&file->f_lock);
	if (hash_bits == 32)
		file->f_mode = (file->f_mode & ~FMODE_64BITHASH) | FMODE_32BITHASH;
	else if (hash_bits == 64)
		file->f_mode = (file->f_mode & ~FMODE_32BITHASH) | FMODE_64BITHASH;
}

/* The caller's RLIMIT_NOFILE (soft): fd numbers must stay below it. */
unsigned long ckpt_glue_nofile(void)
{
	return rlimit(RLIMIT_NOFILE);
}

/* Whether the caller has a file installed at @fd. */
bool ckpt_glue_fd_is_open(unsigned int fd)
{
	struct file *file = fget_raw(fd);

	if (!file)
		return false;
	fput(file);
	return true;
}

/* Reserve the caller's lowest free fd (not visible until installed). */
int ckpt_glue_reserve_fd(bool cloexec)
{
	return get_unused_fd_flags(cloexec ? O_CLOEXEC : 0);
}

void ckpt_glue_unreserve_fd(unsigned int fd)
{
	put_unused_fd(fd);
}

/* Install @file (a reference is taken for the fd table) at the reserved @fd. */
void ckpt_glue_install_fd(unsigned int fd, struct file *file)
{
	fd_install(fd, get_file(file));
}

/* Remove the caller's file at @fd from its table and return it (referenced). */
struct file *ckpt_glue_take_fd(unsigned int fd)
{
	return file_close_fd(fd);
}

/* Whether the caller's @fd is close-on-exec (what the static inline close_on_exec() reads). */
bool ckpt_glue_fd_cloexec(unsigned int fd)
{
	struct fdtable *fdt;
	bool ret;

	rcu_read_lock();
	fdt = files_fdtable(current->files);
	ret = fd < fdt->max_fds && test_bit(fd, fdt->close_on_exec);
	rcu_read_unlock();
	return ret;
}

/* Close a file taken out of the caller's table, as close(2) would. */
void ckpt_glue_close_taken(struct file *file)
{
	filp_close(file, current->files);
}
