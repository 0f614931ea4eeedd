// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of the whole-process checkpoint (src/process/). Each takes the
 * mmap lock for reading, copies what it needs and drops the lock before
 * returning: the Rust side writes the image without holding it. Only
 * exported symbols are called; what is here is what Rust cannot reach
 * (static inlines and macros).
 */
#include <linux/errno.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/futex.h>
#include <linux/highmem.h>
#include <linux/hrtimer.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mmap_lock.h>
#include <linux/rcupdate.h>
#include <linux/regset.h>
#include <linux/resource.h>
#include <linux/rseq.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/sched/task_stack.h>
#include <linux/seccomp.h>
#include <linux/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/task_work.h>
#include <linux/userfaultfd_k.h>

#include "process_c.h"

static_assert(sizeof(struct ckpt_proc_vma) == 72);
static_assert(sizeof(struct ckpt_proc_mm) == 13 * 8 + CKPT_PROC_AUXV_WORDS * 8 + 8);
static_assert(AT_VECTOR_SIZE <= CKPT_PROC_AUXV_WORDS);

/* mmap_read_lock_killable() and rcu_read_lock() are static inlines. */
int ckpt_proc_mm_info(struct mm_struct *mm, struct ckpt_proc_mm *out)
{
	if (mmap_read_lock_killable(mm))
		return -EINTR;
	out->start_code = mm->start_code;
	out->end_code = mm->end_code;
	out->start_data = mm->start_data;
	out->end_data = mm->end_data;
	out->start_brk = mm->start_brk;
	out->brk = mm->brk;
	out->start_stack = mm->start_stack;
	/* arg and env ranges are protected by arg_lock, not the mmap lock */
	spin_lock(&mm->arg_lock);
	out->arg_start = mm->arg_start;
	out->arg_end = mm->arg_end;
	out->env_start = mm->env_start;
	out->env_end = mm->env_end;
	spin_unlock(&mm->arg_lock);
	out->vdso = (u64)(unsigned long)mm->context.vdso;
	out->swapents = get_mm_counter(mm, MM_SWAPENTS);
	memset(out->auxv, 0, sizeof(out->auxv));
	memcpy(out->auxv, mm->saved_auxv, sizeof(mm->saved_auxv));
	mmap_read_unlock(mm);

	rcu_read_lock();
	out->exe_file = get_file_rcu(&mm->exe_file);
	rcu_read_unlock();
	return 0;
}

/* The vm_flags bits are macros over an internal bit enum; translated here. */
static u32 ckpt_proc_bits(struct vm_area_struct *vma)
{
	vm_flags_t f = vma->vm_flags;
	u32 b = 0;

	b |= (f & VM_READ) ? CKPT_PROC_READ : 0;
	b |= (f & VM_WRITE) ? CKPT_PROC_WRITE : 0;
	b |= (f & VM_EXEC) ? CKPT_PROC_EXEC : 0;
	b |= (f & (VM_SHARED | VM_MAYSHARE)) ? CKPT_PROC_SHARED : 0;
	b |= (f & VM_GROWSDOWN) ? CKPT_PROC_GROWSDOWN : 0;
	b |= (f & VM_LOCKED) ? CKPT_PROC_LOCKED : 0;
	b |= (f & VM_LOCKONFAULT) ? CKPT_PROC_LOCKONFAULT : 0;
	b |= (f & VM_NORESERVE) ? CKPT_PROC_NORESERVE : 0;
	b |= (f & VM_DONTCOPY) ? CKPT_PROC_DONTCOPY : 0;
	b |= (f & VM_DONTDUMP) ? CKPT_PROC_DONTDUMP : 0;
	b |= (f & VM_WIPEONFORK) ? CKPT_PROC_WIPEONFORK : 0;
	b |= (f & VM_HUGEPAGE) ? CKPT_PROC_HUGEPAGE : 0;
	b |= (f & VM_NOHUGEPAGE) ? CKPT_PROC_NOHUGEPAGE : 0;
	b |= (f & VM_SEQ_READ) ? CKPT_PROC_SEQ_READ : 0;
	b |= (f & VM_RAND_READ) ? CKPT_PROC_RAND_READ : 0;
	b |= (f & VM_MAYWRITE) ? CKPT_PROC_MAYWRITE : 0;
	b |= (f & VM_MAYEXEC) ? CKPT_PROC_MAYEXEC : 0;
	b |= vma_is_anonymous(vma) ? CKPT_PROC_ANON : 0;
	b |= (f & (VM_IO | VM_PFNMAP | VM_MIXEDMAP)) ? CKPT_PROC_IO : 0;
	b |= (f & VM_HUGETLB) ? CKPT_PROC_HUGETLB : 0;
	b |= (userfaultfd_armed(vma) || vma->vm_userfaultfd_ctx.ctx) ? CKPT_PROC_UFFD : 0;
	b |= (f & VM_SHADOW_STACK) ? CKPT_PROC_SHADOW_STACK : 0;
	return b;
}

/*
 * The first VMA ending above @addr (find_vma() needs the mmap lock, a static
 * inline). Returns 0 and fills @out, 1 if there is none, -EINTR on a fatal
 * signal.
 */
int ckpt_proc_next_vma(struct mm_struct *mm, u64 addr, struct ckpt_proc_vma *out)
{
	struct vm_area_struct *vma;
	const char *name = NULL;

	memset(out, 0, sizeof(*out));
	if (mmap_read_lock_killable(mm))
		return -EINTR;
	vma = find_vma(mm, addr);
	if (!vma) {
		mmap_read_unlock(mm);
		return 1;
	}
	out->start = vma->vm_start;
	out->end = vma->vm_end;
	out->pgoff = vma->vm_pgoff;
	out->bits = ckpt_proc_bits(vma);
	if (vma->vm_file)
		out->file = get_file(vma->vm_file);
	if (vma->vm_ops && vma->vm_ops->name)
		name = vma->vm_ops->name(vma);
	if (name)
		strscpy(out->name, name, sizeof(out->name));
	mmap_read_unlock(mm);
	return 0;
}

/*
 * Copies the present pages of [@start, @start + @nr pages) into @buf (page i
 * at offset i * PAGE_SIZE) and sets bit i of *@present for each; holes, the
 * zero page and, in the ANON modes, page cache pages are left out. The range
 * must lie in one VMA (-EAGAIN if the map changed). Returns the number of
 * pages copied or a negative errno. mmap_read_lock, kmap and PageAnon are
 * static inlines.
 */
long ckpt_proc_copy_pages(struct mm_struct *mm, u64 start, u32 nr, u32 mode,
			  u8 *buf, u64 *present)
{
	unsigned int flags = FOLL_FORCE | FOLL_DUMP;
	struct vm_area_struct *vma;
	long copied = 0;
	u32 i;

	*present = 0;
	if (nr == 0 || nr > CKPT_PROC_BATCH || !PAGE_ALIGNED(start))
		return -EINVAL;
	if (mode == CKPT_PROC_PAGES_ANON)
		flags |= FOLL_NOFAULT;
	else if (mode == CKPT_PROC_PAGES_FORCE)
		flags = FOLL_FORCE;
	else if (mode != CKPT_PROC_PAGES_ALL && mode != CKPT_PROC_PAGES_ANON_SWAP)
		return -EINVAL;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	vma = find_vma(mm, start);
	if (!vma || vma->vm_start > start ||
	    vma->vm_end < start + (u64)nr * PAGE_SIZE) {
		mmap_read_unlock(mm);
		return -EAGAIN;
	}
	for (i = 0; i < nr; i++) {
		unsigned long addr = start + (unsigned long)i * PAGE_SIZE;
		struct page *page;
		long got;

		if (fatal_signal_pending(current)) {
			copied = -EINTR;
			break;
		}
		got = get_user_pages_remote(mm, addr, 1, flags, &page, NULL);
		if (got == -EFAULT || got == 0)
			continue;	/* a hole or the zero page */
		if (got < 0) {
			copied = got;
			break;
		}
		if (mode != CKPT_PROC_PAGES_ALL && mode != CKPT_PROC_PAGES_FORCE &&
		    !PageAnon(page)) {
			put_page(page);	/* the file's own page: not in the image */
			continue;
		}
		memcpy_from_page(buf + (unsigned long)i * PAGE_SIZE, page, 0, PAGE_SIZE);
		put_page(page);
		*present |= 1ULL << i;
		copied++;
	}
	mmap_read_unlock(mm);
	return copied;
}

/*
 * The register set of ELF note type @note, as PTRACE_GETREGSET returns it:
 * with @buf NULL, its size (0 if the task's view has no such set); else the
 * bytes written to @buf (at most @size), or a negative errno (-ENODEV: the
 * CPU lacks it). struct user_regset_view is not in the Rust bindings.
 */
int ckpt_proc_regset(struct task_struct *task, u32 note, u8 *buf, u32 size)
{
	const struct user_regset_view *view = task_user_regset_view(task);

	for (unsigned int i = 0; i < view->n; i++) {
		const struct user_regset *rs = &view->regsets[i];

		if (rs->core_note_type != note)
			continue;
		if (!buf)
			return rs->n * rs->size;
		return regset_get(task, rs, size, buf);
	}
	return 0;
}

/*
 * What the task has of the state checkpoint refuses (CKPT_PROC_ST_*). The
 * fields are C-only (config-dependent layout). The task is the caller or
 * stopped in a ptrace stop, and our reference keeps task->signal alive, so
 * plain reads suffice (lock_task_sighand() is not exported).
 */
u32 ckpt_proc_state(struct task_struct *task)
{
	struct signal_struct *sig = task->signal;
	u32 b = 0;

#ifdef CONFIG_SECCOMP
	if (READ_ONCE(task->seccomp.mode) != SECCOMP_MODE_DISABLED)
		b |= CKPT_PROC_ST_SECCOMP;
#endif
#ifdef CONFIG_POSIX_TIMERS
	if (!hlist_empty(&sig->posix_timers) || !hlist_empty(&sig->ignored_posix_timers))
		b |= CKPT_PROC_ST_POSIX_TIMERS;
	if (hrtimer_active(&sig->real_timer) || sig->it[0].expires || sig->it[1].expires)
		b |= CKPT_PROC_ST_ITIMERS;
#endif
#ifdef CONFIG_MODIFY_LDT_SYSCALL
	if (task->mm && READ_ONCE(task->mm->context.ldt))
		b |= CKPT_PROC_ST_LDT;
#endif
#ifdef CONFIG_IO_URING
	if (READ_ONCE(task->io_uring))
		b |= CKPT_PROC_ST_IO_URING;
#endif
	return b;
}

/*
 * C: kernel::bindings' task_struct layout differs from C's in this
 * configuration (see src/ffi.rs), so no task field is read from Rust.
 */
u32 ckpt_proc_personality(struct task_struct *task)
{
	return READ_ONCE(task->personality);
}

/* ---- signal and task state: SIGNALS and TASK_STATE records (branch sigstate) ---- */

static_assert(_NSIG == CKPT_PROC_NSIG && _NSIG_WORDS == 1);
static_assert(RLIM_NLIMITS == CKPT_PROC_NLIMITS);
static_assert(sizeof(struct ckpt_proc_signals) == 5 * 8 + CKPT_PROC_NSIG * 32);
static_assert(sizeof(struct ckpt_proc_task_state) == 7 * 8 + CKPT_PROC_NLIMITS * 16);

/*
 * lock_task_sighand() is not exported: the same loop over the exported
 * primitives. sighand_struct is SLAB_TYPESAFE_BY_RCU, so taking its lock
 * under rcu_read_lock() and re-checking that it is still the task's is safe;
 * NULL once the task has exited.
 */
static struct sighand_struct *ckpt_lock_sighand(struct task_struct *t, unsigned long *flags)
{
	struct sighand_struct *sighand;

	rcu_read_lock();
	for (;;) {
		sighand = rcu_dereference(t->sighand);
		if (unlikely(!sighand))
			break;
		spin_lock_irqsave(&sighand->siglock, *flags);
		if (likely(sighand == rcu_access_pointer(t->sighand)))
			break;
		spin_unlock_irqrestore(&sighand->siglock, *flags);
	}
	rcu_read_unlock();
	return sighand;
}

/*
 * The signal state of @task (the caller or stopped in a ptrace stop), read
 * under its siglock as /proc/PID/status does. -ESRCH if it has exited.
 */
int ckpt_proc_signals(struct task_struct *task, struct ckpt_proc_signals *out)
{
	struct sighand_struct *sighand;
	unsigned long flags;
	int i;

	memset(out, 0, sizeof(*out));
	sighand = ckpt_lock_sighand(task, &flags);
	if (!sighand)
		return -ESRCH;
	out->blocked = task->blocked.sig[0];
	out->pending = task->pending.signal.sig[0] | task->signal->shared_pending.signal.sig[0];
	out->temp_mask = test_tsk_restore_sigmask(task) ? 1 : 0;
	for (i = 0; i < CKPT_PROC_NSIG; i++) {
		const struct sigaction *sa = &sighand->action[i].sa;

		out->action[i].handler = (u64)(unsigned long)sa->sa_handler;
		out->action[i].flags = sa->sa_flags & UAPI_SA_FLAGS;
		out->action[i].restorer = (u64)(unsigned long)sa->sa_restorer;
		out->action[i].mask = sa->sa_mask.sig[0];
	}
	/* what do_sigaltstack() reports, off the stack (sas_ss_flags() reads current) */
	out->altstack_sp = task->sas_ss_sp;
	out->altstack_size = task->sas_ss_size;
	out->altstack_flags = (task->sas_ss_size ? 0 : SS_DISABLE) |
			      (task->sas_ss_flags & SS_FLAG_BITS);
	unlock_task_sighand(task, &flags);
	return 0;
}

/*
 * The rest of what user space set for @task: rseq, robust futex lists and
 * clear_child_tid (the task's own fields: it is the caller or stopped),
 * umask (task->fs, under task_lock() as for any other task's fs), the
 * parent-death signal, and the resource limits, under task_lock() of the
 * group leader as do_prlimit() takes it. -ESRCH if the task has exited.
 */
int ckpt_proc_task_state(struct task_struct *task, struct ckpt_proc_task_state *out)
{
	struct task_struct *leader;
	int i, err = 0;

	memset(out, 0, sizeof(*out));
#ifdef CONFIG_RSEQ
	out->rseq = (u64)(unsigned long)READ_ONCE(task->rseq.usrptr);
	out->rseq_len = READ_ONCE(task->rseq.len);
	out->rseq_sig = READ_ONCE(task->rseq.sig);
#endif
#ifdef CONFIG_FUTEX
	out->robust_list = (u64)(unsigned long)READ_ONCE(task->futex.robust_list);
	if (out->robust_list)
		out->robust_list_len = sizeof(struct robust_list_head);
#ifdef CONFIG_COMPAT
	out->compat_robust_list = (u64)(unsigned long)READ_ONCE(task->futex.compat_robust_list);
#endif
#endif
	out->clear_child_tid = (u64)(unsigned long)READ_ONCE(task->clear_child_tid);
	out->pdeath_signal = READ_ONCE(task->pdeath_signal);

	task_lock(task);
	if (task->fs)
		out->umask = task->fs->umask;
	else
		err = -ESRCH;
	task_unlock(task);
	if (err)
		return err;

	rcu_read_lock();
	leader = READ_ONCE(task->group_leader);
	get_task_struct(leader);
	rcu_read_unlock();
	task_lock(leader);
	for (i = 0; i < CKPT_PROC_NLIMITS; i++) {
		out->rlim[i][0] = task->signal->rlim[i].rlim_cur;
		out->rlim[i][1] = task->signal->rlim[i].rlim_max;
	}
	task_unlock(leader);
	put_task_struct(leader);
	return 0;
}

/* restart */

/*
 * Whole-process restart into the caller (src/process/restore_commit.rs): the
 * caller's own task and mm only (current), so no task lookup and no remote
 * mm. Kept small: every step a user could take with syscalls on itself
 * (munmap, mmap, ptrace-like forced writes, PR_SET_MM_MAP), done from the
 * ioctl because the caller's own code is gone once its memory is.
 */

/*
 * 0 when nothing else runs in the caller's address space or signal handlers:
 * 1 another thread, 2 another process shares the mm (CLONE_VM, vfork), 3 the
 * sighand is shared (CLONE_SIGHAND). A transient mm_users reference (a /proc
 * reader) is told from sharing by MMF_MULTIPROCESS, set when a process shares it.
 */
int ckpt_proc_restore_alone(void)
{
	struct mm_struct *mm = current->mm;

	if (get_nr_threads(current) != 1)
		return 1;
	if (!mm || (atomic_read(&mm->mm_users) > 1 && mm_flags_test(MMF_MULTIPROCESS, mm)))
		return 2;
	if (refcount_read(&current->sighand->count) != 1)
		return 3;
	return 0;
}

/* What restart keeps of the caller's map: the vDSO and its data pages. */
static bool ckpt_proc_restore_keep(struct vm_area_struct *vma)
{
	const char *name = NULL;

	if (vma->vm_ops && vma->vm_ops->name)
		name = vma->vm_ops->name(vma);
	return name && (!strcmp(name, "[vdso]") || !strncmp(name, "[vvar", 5));
}

/*
 * The caller's [vdso] and [vvar*] ranges, as start, end pairs in @ranges (room
 * for @max pairs). Returns the number of pairs, or -EINTR.
 */
int ckpt_proc_restore_special(u64 *ranges, u32 max)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	VMA_ITERATOR(vmi, mm, 0);
	int n = 0;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	for_each_vma(vmi, vma) {
		if (!ckpt_proc_restore_keep(vma))
			continue;
		if (n >= max)
			break;
		ranges[2 * n] = vma->vm_start;
		ranges[2 * n + 1] = vma->vm_end;
		n++;
	}
	mmap_read_unlock(mm);
	return n;
}

/*
 * Resets what the caller's libc registered and the image does not replace,
 * as exec does: rseq, robust futex list, clear/set_child_tid (the kernel
 * would write into restored memory), the signal altstack, every signal
 * action (to SIG_DFL: the caller's handlers point into code about to vanish)
 * and the blocked mask. sas_ss_reset() and rseq_execve() are static inlines.
 */
void ckpt_proc_restore_reset(void)
{
	struct task_struct *t = current;
	sigset_t empty;
	int i;

#ifdef CONFIG_RSEQ
	rseq_execve(t);
#endif
#ifdef CONFIG_FUTEX
	t->futex.robust_list = NULL;
#ifdef CONFIG_COMPAT
	t->futex.compat_robust_list = NULL;
#endif
#endif
	t->clear_child_tid = NULL;
	t->set_child_tid = NULL;
	sas_ss_reset(t);

	spin_lock_irq(&t->sighand->siglock);
	for (i = 0; i < _NSIG; i++) {
		struct k_sigaction *ka = &t->sighand->action[i];

		memset(ka, 0, sizeof(*ka));
		ka->sa.sa_handler = SIG_DFL;
	}
	spin_unlock_irq(&t->sighand->siglock);
	sigemptyset(&empty);
	sigprocmask(SIG_SETMASK, &empty, NULL);
}

/*
 * Unmaps every mapping of the caller but the vDSO and vvar: each found under
 * the mmap read lock, then vm_munmap() (which takes the write lock).
 */
int ckpt_proc_restore_unmap(void)
{
	struct mm_struct *mm = current->mm;
	unsigned long addr = 0;

	for (;;) {
		struct vm_area_struct *vma;
		unsigned long start, end;
		int ret;

		if (mmap_read_lock_killable(mm))
			return -EINTR;
		vma = find_vma(mm, addr);
		while (vma && ckpt_proc_restore_keep(vma))
			vma = find_vma(mm, vma->vm_end);
		if (!vma) {
			mmap_read_unlock(mm);
			return 0;
		}
		start = vma->vm_start;
		end = vma->vm_end;
		mmap_read_unlock(mm);
		ret = vm_munmap(start, end - start);
		if (ret)
			return ret;
		addr = start;
	}
}

/*
 * Maps one mapping of the image at exactly @start (MAP_FIXED_NOREPLACE: the
 * range was emptied), with its final protection, as mmap(2) would (same
 * LSM and file mode checks).
 */
int ckpt_proc_restore_map(struct file *file, u64 start, u64 len, u32 prot, u32 bits,
			  u64 offset)
{
	unsigned long flags = MAP_FIXED_NOREPLACE;
	unsigned long ret;

	flags |= (bits & CKPT_PROC_RESTORE_SHARED) ? MAP_SHARED : MAP_PRIVATE;
	if (!file)
		flags |= MAP_ANONYMOUS;
	if (bits & CKPT_PROC_RESTORE_GROWSDOWN)
		flags |= MAP_GROWSDOWN;
	if (bits & CKPT_PROC_RESTORE_NORESERVE)
		flags |= MAP_NORESERVE;
	ret = vm_mmap(file, start, len, prot, flags, offset);
	if (IS_ERR_VALUE(ret))
		return (int)ret;
	if (ret != start) {
		vm_munmap(ret, len);
		return -EEXIST;
	}
	return 0;
}

/*
 * Writes @len bytes at @addr of the caller's memory whatever the mapping's
 * protection, the way ptrace's PTRACE_POKEDATA does (FOLL_FORCE: a private
 * read-only or PROT_NONE page is copied on write, as it was at checkpoint).
 */
int ckpt_proc_restore_fill(u64 addr, const u8 *data, u32 len)
{
	int done;

	if (len > INT_MAX)
		return -EINVAL;
	done = access_process_vm(current, addr, (void *)data, len, FOLL_FORCE | FOLL_WRITE);
	return done == (int)len ? 0 : -EFAULT;
}

/*
 * Sets the mm's layout fields (code, data, brk, stack, args, env, in the MM
 * record's order) as PR_SET_MM_MAP would: the heap within RLIMIT_DATA. The
 * fields only label mappings (/proc) and bound brk(2).
 */
int ckpt_proc_restore_mm(const u64 *l)
{
	struct mm_struct *mm = current->mm;

	if (mmap_write_lock_killable(mm))
		return -EINTR;
	if (check_data_rlimit(rlimit(RLIMIT_DATA), l[5], l[4], l[3], l[2])) {
		mmap_write_unlock(mm);
		return -EINVAL;
	}
	mm->start_code = l[0];
	mm->end_code = l[1];
	mm->start_data = l[2];
	mm->end_data = l[3];
	mm->start_brk = l[4];
	mm->brk = l[5];
	mm->start_stack = l[6];
	spin_lock(&mm->arg_lock);
	mm->arg_start = l[7];
	mm->arg_end = l[8];
	mm->env_start = l[9];
	mm->env_end = l[10];
	spin_unlock(&mm->arg_lock);
	mmap_write_unlock(mm);
	return 0;
}

/* Sets the user rax once the ioctl's own return value is stored. */
struct ckpt_proc_restore_ax {
	struct callback_head work;
	u64 ax;
};

static void ckpt_proc_restore_ax_fn(struct callback_head *work)
{
	struct ckpt_proc_restore_ax *w = container_of(work, struct ckpt_proc_restore_ax, work);

	task_pt_regs(current)->ax = w->ax;
	kfree(w);
}

/*
 * Writes the caller's user registers from @r, a struct user_regs_struct
 * (NT_PRSTATUS, already validated: 64-bit user cs/ss, canonical ip/sp):
 * every general register, ip, sp, the flags restore_sigcontext() lets user
 * space change, and orig_ax = -1 (no syscall restart on the way out). The
 * syscall path stores the ioctl's return value in ax after this (an int,
 * truncated by vfs_ioctl()), so ax is set by a task work that runs on the
 * way back to user space, before any signal is delivered (TWA_SIGNAL: the
 * works run at the start of get_signal()). fs/gs base are set by user space
 * (arch_prctl) before the commit.
 */
int ckpt_proc_restore_regs(const u64 *r)
{
	const unsigned long fix = X86_EFLAGS_AC | X86_EFLAGS_OF | X86_EFLAGS_DF |
				  X86_EFLAGS_TF | X86_EFLAGS_SF | X86_EFLAGS_ZF |
				  X86_EFLAGS_AF | X86_EFLAGS_PF | X86_EFLAGS_CF | X86_EFLAGS_RF;
	struct pt_regs *regs = task_pt_regs(current);
	struct ckpt_proc_restore_ax *w;
	int ret;

	w = kmalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return -ENOMEM;
	w->ax = r[10];
	init_task_work(&w->work, ckpt_proc_restore_ax_fn);
	ret = task_work_add(current, &w->work, TWA_SIGNAL);
	if (ret) {
		kfree(w);
		return ret;
	}
	regs->r15 = r[0];
	regs->r14 = r[1];
	regs->r13 = r[2];
	regs->r12 = r[3];
	regs->bp = r[4];
	regs->bx = r[5];
	regs->r11 = r[6];
	regs->r10 = r[7];
	regs->r9 = r[8];
	regs->r8 = r[9];
	regs->ax = r[10];
	regs->cx = r[11];
	regs->dx = r[12];
	regs->si = r[13];
	regs->di = r[14];
	regs->orig_ax = -1;
	regs->ip = r[16];
	regs->flags = (regs->flags & ~fix) | (r[18] & fix);
	regs->sp = r[19];
	return 0;
}

/* The caller's vDSO: its start (0 if none) and, in *@len, its length. */
u64 ckpt_proc_restore_vdso(u64 *len)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	u64 start = 0;

	*len = 0;
	if (mmap_read_lock_killable(mm))
		return 0;
	vma = find_vma(mm, (unsigned long)mm->context.vdso);
	if (mm->context.vdso && vma && vma->vm_start == (unsigned long)mm->context.vdso) {
		start = vma->vm_start;
		*len = vma->vm_end - vma->vm_start;
	}
	mmap_read_unlock(mm);
	return start;
}

/* Past the point of no return: the caller dies, as a failed exec does. */
void ckpt_proc_restore_kill(void)
{
	force_sig(SIGKILL);
}

/* The original rseq area size (ORIG_RSEQ_SIZE of kernel/rseq.c). */
#define CKPT_PROC_ORIG_RSEQ_SIZE 32

/*
 * Whether sys_rseq() would accept an area at @addr of @len bytes (the rule of
 * rseq_length_valid(), static in kernel/rseq.c; rseq_alloc_align() is a
 * static inline): 0 if not, or if the kernel has no CONFIG_RSEQ.
 */
int ckpt_proc_restore_rseq_valid(u64 addr, u32 len)
{
#ifdef CONFIG_RSEQ
	if (len < CKPT_PROC_ORIG_RSEQ_SIZE)
		return 0;
	if (len == CKPT_PROC_ORIG_RSEQ_SIZE)
		return IS_ALIGNED(addr, CKPT_PROC_ORIG_RSEQ_SIZE);
	return IS_ALIGNED(addr, rseq_alloc_align()) && len >= offsetof(struct rseq, end);
#else
	return 0;
#endif
}

/* UAPI_SA_FLAGS: the sa_flags sigaction(2) keeps (a macro of asm headers). */
u64 ckpt_proc_restore_sa_flags(void)
{
	return UAPI_SA_FLAGS;
}

/*
 * The image's signal actions, altstack and blocked mask, on current, after
 * ckpt_proc_restore_reset(): what do_sigaction() and do_sigaltstack() (not
 * exported) store, under the siglock they take; SIGKILL and SIGSTOP keep
 * SIG_DFL and are never blocked nor in a handler's mask (phase A refused
 * such images already). Pending signals the caller had that the image
 * ignores are discarded on delivery, as get_signal() does.
 */
void ckpt_proc_restore_signals(const struct ckpt_proc_signals *s)
{
	struct task_struct *t = current;
	const u64 never = sigmask(SIGKILL) | sigmask(SIGSTOP);
	sigset_t blocked;
	int i;

	spin_lock_irq(&t->sighand->siglock);
	for (i = 0; i < _NSIG; i++) {
		struct k_sigaction *ka = &t->sighand->action[i];
		const struct ckpt_proc_sigaction *a = &s->action[i];

		if (sig_kernel_only(i + 1))
			continue;
		memset(ka, 0, sizeof(*ka));
		ka->sa.sa_handler = (__sighandler_t)(unsigned long)a->handler;
		ka->sa.sa_flags = a->flags & UAPI_SA_FLAGS;
#ifdef __ARCH_HAS_SA_RESTORER
		ka->sa.sa_restorer = (__sigrestore_t)(unsigned long)a->restorer;
#endif
		ka->sa.sa_mask.sig[0] = a->mask & ~never;
	}
	if (s->altstack_size) {
		t->sas_ss_sp = s->altstack_sp;
		t->sas_ss_size = s->altstack_size;
		t->sas_ss_flags = s->altstack_flags & SS_FLAG_BITS;
	} else {
		sas_ss_reset(t);
	}
	spin_unlock_irq(&t->sighand->siglock);
	sigemptyset(&blocked);
	blocked.sig[0] = s->blocked & ~never;
	sigprocmask(SIG_SETMASK, &blocked, NULL);
}

#ifdef CONFIG_RSEQ
/*
 * Registers the image's rseq area for current as rseq_register() (static)
 * does: the area's kernel-written fields reset (rseq_cs cleared, cpu ids
 * uninitialized), the registration stored, and an update of the ids forced
 * on the way back to user space (rseq_force_update() raises TIF_RSEQ).
 * The area is in the restored memory, in a writable mapping (phase A).
 */
static int ckpt_proc_restore_rseq(u64 addr, u32 len, u32 sig)
{
	struct rseq __user *rseq = u64_to_user_ptr(addr);
	u8 version = 1;

	if (!ckpt_proc_restore_rseq_valid(addr, len) || !access_ok(rseq, len))
		return -EINVAL;
	if (IS_ENABLED(CONFIG_GENERIC_IRQ_ENTRY) && len > CKPT_PROC_ORIG_RSEQ_SIZE)
		version = 2;
	if (put_user(0ULL, &rseq->rseq_cs) || put_user(0U, &rseq->flags) ||
	    put_user((u32)RSEQ_CPU_ID_UNINITIALIZED, &rseq->cpu_id_start) ||
	    put_user((u32)RSEQ_CPU_ID_UNINITIALIZED, &rseq->cpu_id) ||
	    put_user(0U, &rseq->node_id) || put_user(0U, &rseq->mm_cid))
		return -EFAULT;
#ifdef CONFIG_RSEQ_SLICE_EXTENSION
	if (version > 1 && put_user(0U, &rseq->slice_ctrl.all))
		return -EFAULT;
#endif
	rseq_reset(current);
	current->rseq.usrptr = rseq;
	current->rseq.len = len;
	current->rseq.sig = sig;
	current->rseq.event.has_rseq = version;
	rseq_force_update();
	return 0;
}
#endif

/*
 * The image's task state on current, after its memory is in place: rseq,
 * robust list and clear_child_tid (the task's own fields, as the syscalls set
 * them), umask (xchg() as sys_umask), the parent-death signal, and the
 * resource limits under task_lock() of the group leader as do_prlimit()
 * (static) takes it. Limits are only lowered, never raised above the
 * caller's hard limits (-EPERM, phase A refused already); RLIMIT_CPU keeps
 * the caller's timer (phase A refused a different finite soft limit:
 * update_rlimit_cpu() is not exported).
 */
int ckpt_proc_restore_task(const struct ckpt_proc_task_state *st)
{
	struct task_struct *t = current;
	int i, err = 0;

#ifdef CONFIG_RSEQ
	if (st->rseq) {
		err = ckpt_proc_restore_rseq(st->rseq, st->rseq_len, st->rseq_sig);
		if (err)
			return err;
	}
#else
	if (st->rseq)
		return -EINVAL;
#endif
#ifdef CONFIG_FUTEX
	if (st->robust_list && st->robust_list_len != sizeof(struct robust_list_head))
		return -EINVAL;
	t->futex.robust_list = u64_to_user_ptr(st->robust_list);
#endif
	t->clear_child_tid = u64_to_user_ptr(st->clear_child_tid);
	xchg(&t->fs->umask, st->umask & S_IRWXUGO);
	if (!valid_signal(st->pdeath_signal))
		return -EINVAL;
	t->pdeath_signal = st->pdeath_signal;

	task_lock(t->group_leader);
	for (i = 0; i < CKPT_PROC_NLIMITS; i++) {
		struct rlimit *r = &t->signal->rlim[i];

		if (st->rlim[i][0] > st->rlim[i][1] || st->rlim[i][1] > r->rlim_max) {
			err = -EPERM;
			continue;
		}
		if (i == RLIMIT_CPU && st->rlim[i][0] != r->rlim_cur &&
		    st->rlim[i][0] != RLIM_INFINITY) {
			err = -EPERM;
			continue;
		}
		r->rlim_cur = st->rlim[i][0];
		r->rlim_max = st->rlim[i][1];
	}
	task_unlock(t->group_leader);
	return err;
}
