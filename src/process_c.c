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
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/rcupdate.h>
#include <linux/regset.h>
#include <linux/hrtimer.h>
#include <linux/sched/signal.h>
#include <linux/seccomp.h>
#include <linux/sched/mm.h>
#include <linux/string.h>
#include <linux/userfaultfd_k.h>
#include <linux/fs_struct.h>
#include <linux/futex.h>
#include <linux/resource.h>
#include <linux/sched/task.h>
#include <linux/signal.h>

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
