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
