/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ckpt: C helpers of the whole-process checkpoint (src/process_c.c), for the
 * static inlines and macros Rust cannot call (mmap lock, rcu, kmap, mm
 * counters). src/process/ffi.rs mirrors these declarations; the structs hold
 * only fixed-size fields and both sides assert their sizes.
 */
#ifndef CKPT_PROCESS_C_H
#define CKPT_PROCESS_C_H

#include <linux/types.h>

struct file;
struct mm_struct;
struct task_struct;

/* Number of saved_auxv words copied (AT_VECTOR_SIZE is 52 on x86_64). */
#define CKPT_PROC_AUXV_WORDS 64

struct ckpt_proc_mm {
	u64 start_code, end_code, start_data, end_data;
	u64 start_brk, brk, start_stack;
	u64 arg_start, arg_end, env_start, env_end;
	u64 vdso;		/* mm->context.vdso, 0 if none */
	u64 swapents;		/* MM_SWAPENTS: swapped-out anonymous pages */
	u64 auxv[CKPT_PROC_AUXV_WORDS];	/* saved_auxv, zero padded */
	struct file *exe_file;	/* referenced, or NULL */
};

/* ckpt_proc_vma.bits */
enum {
	CKPT_PROC_READ		= 1 << 0,
	CKPT_PROC_WRITE		= 1 << 1,
	CKPT_PROC_EXEC		= 1 << 2,
	CKPT_PROC_SHARED	= 1 << 3,	/* VM_SHARED or VM_MAYSHARE */
	CKPT_PROC_GROWSDOWN	= 1 << 4,
	CKPT_PROC_LOCKED	= 1 << 5,
	CKPT_PROC_LOCKONFAULT	= 1 << 6,
	CKPT_PROC_NORESERVE	= 1 << 7,
	CKPT_PROC_DONTCOPY	= 1 << 8,
	CKPT_PROC_DONTDUMP	= 1 << 9,
	CKPT_PROC_WIPEONFORK	= 1 << 10,
	CKPT_PROC_HUGEPAGE	= 1 << 11,
	CKPT_PROC_NOHUGEPAGE	= 1 << 12,
	CKPT_PROC_SEQ_READ	= 1 << 13,
	CKPT_PROC_RAND_READ	= 1 << 14,
	CKPT_PROC_MAYWRITE	= 1 << 15,
	CKPT_PROC_MAYEXEC	= 1 << 16,
	CKPT_PROC_ANON		= 1 << 17,	/* vma_is_anonymous() */
	CKPT_PROC_IO		= 1 << 18,	/* VM_IO, VM_PFNMAP or VM_MIXEDMAP */
	CKPT_PROC_HUGETLB	= 1 << 19,
	CKPT_PROC_UFFD		= 1 << 20,	/* registered with a userfaultfd */
	CKPT_PROC_SHADOW_STACK	= 1 << 21,
};

struct ckpt_proc_vma {
	u64 start, end;
	u64 pgoff;		/* vm_pgoff, in pages */
	struct file *file;	/* referenced, or NULL */
	u32 bits;		/* CKPT_PROC_* */
	u32 reserved;
	char name[32];		/* special mapping name, e.g. "[vdso]", or "" */
};

/* ckpt_proc_copy_pages() modes */
enum {
	CKPT_PROC_PAGES_ALL	 = 0,	/* anonymous VMA: every present page */
	CKPT_PROC_PAGES_ANON	 = 1,	/* private file VMA: only anonymous (COW) pages, no fault */
	CKPT_PROC_PAGES_ANON_SWAP = 2,	/* same, faulting in swapped-out pages */
	CKPT_PROC_PAGES_FORCE	 = 3,	/* every page, faulting it in (the vDSO) */
};

/* Most pages one ckpt_proc_copy_pages() call copies (one bit each in *present). */
#define CKPT_PROC_BATCH 64

int ckpt_proc_mm_info(struct mm_struct *mm, struct ckpt_proc_mm *out);
int ckpt_proc_next_vma(struct mm_struct *mm, u64 addr, struct ckpt_proc_vma *out);
long ckpt_proc_copy_pages(struct mm_struct *mm, u64 start, u32 nr, u32 mode,
			  void *buf, u64 *present);
/* ckpt_proc_state() bits: process state checkpoint does not save yet */
enum {
	CKPT_PROC_ST_SECCOMP	  = 1 << 0,	/* seccomp strict mode or filters */
	CKPT_PROC_ST_POSIX_TIMERS = 1 << 1,	/* timer_create() timers */
	CKPT_PROC_ST_ITIMERS	  = 1 << 2,	/* armed setitimer() timers */
	CKPT_PROC_ST_LDT	  = 1 << 3,	/* a local descriptor table */
	CKPT_PROC_ST_IO_URING	  = 1 << 4,	/* io_uring instances */
};

u32 ckpt_proc_state(struct task_struct *task);
int ckpt_proc_regset(struct task_struct *task, u32 note, void *buf, u32 size);
u32 ckpt_proc_personality(struct task_struct *task);

/* restart: whole-process restart into the caller (src/process/restore_*.rs) */

/* ckpt_proc_restore_map() bits */
enum {
	CKPT_PROC_RESTORE_SHARED	= 1 << 0,
	CKPT_PROC_RESTORE_GROWSDOWN	= 1 << 1,
	CKPT_PROC_RESTORE_NORESERVE	= 1 << 2,
};

/* Most [vdso]/[vvar*] ranges ckpt_proc_restore_special() reports. */
#define CKPT_PROC_RESTORE_SPECIAL_MAX 4

int ckpt_proc_restore_alone(void);
int ckpt_proc_restore_special(u64 *ranges, u32 max);
void ckpt_proc_restore_reset(void);
int ckpt_proc_restore_unmap(void);
int ckpt_proc_restore_map(struct file *file, u64 start, u64 len, u32 prot, u32 bits,
			  u64 offset);
int ckpt_proc_restore_fill(u64 addr, const void *data, u32 len);
int ckpt_proc_restore_mm(const u64 *layout);
int ckpt_proc_restore_regs(const u64 *regs);
u64 ckpt_proc_restore_vdso(u64 *len);
void ckpt_proc_restore_kill(void);

#endif /* CKPT_PROCESS_C_H */
