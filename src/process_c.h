/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ckpt: C helpers of the whole-process checkpoint (src/process_c.c), for the
 * static inlines and macros Rust cannot call (mmap lock, rcu, kmap, mm
 * counters). Kbuild runs bindgen on this header (through src/ffi_c.h, with the
 * UAPI include paths only): fields and parameters use fixed-size types and
 * pointers, kernel structs are only declared, and a ckpt_proc_* function added
 * here is callable from Rust (src/process/ffi.rs) with no declaration there.
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
			  u8 *buf, u64 *present);
/* ckpt_proc_state() bits: process state checkpoint does not save yet */
enum {
	CKPT_PROC_ST_SECCOMP	  = 1 << 0,	/* seccomp strict mode or filters */
	CKPT_PROC_ST_POSIX_TIMERS = 1 << 1,	/* timer_create() timers */
	CKPT_PROC_ST_ITIMERS	  = 1 << 2,	/* armed setitimer() timers */
	CKPT_PROC_ST_LDT	  = 1 << 3,	/* a local descriptor table */
	CKPT_PROC_ST_IO_URING	  = 1 << 4,	/* io_uring instances */
};

u32 ckpt_proc_state(struct task_struct *task);
int ckpt_proc_regset(struct task_struct *task, u32 note, u8 *buf, u32 size);
u32 ckpt_proc_personality(struct task_struct *task);

/* ---- signal and task state: SIGNALS and TASK_STATE records (branch sigstate) ---- */

/* Signals (_NSIG) and resource limits (RLIM_NLIMITS) copied; process_c.c asserts both. */
#define CKPT_PROC_NSIG		64
#define CKPT_PROC_NLIMITS	16

struct ckpt_proc_sigaction {
	u64 handler;		/* SIG_DFL 0, SIG_IGN 1, or the handler's address */
	u64 flags;		/* sa_flags & UAPI_SA_FLAGS, as sigaction(2) reports */
	u64 restorer;
	u64 mask;
};

struct ckpt_proc_signals {
	u64 blocked;
	u64 pending;		/* private and shared pending signals */
	u64 altstack_sp, altstack_size;
	u32 altstack_flags;	/* as sigaltstack(2) reports off the stack */
	u32 temp_mask;		/* 1: a temporary mask is in force (sigsuspend, ppoll...) */
	struct ckpt_proc_sigaction action[CKPT_PROC_NSIG];	/* signal 1 first */
};

struct ckpt_proc_task_state {
	u64 rseq;		/* rseq area, 0 if none */
	u32 rseq_len, rseq_sig;
	u64 robust_list, robust_list_len;	/* len 0 if no list */
	u64 compat_robust_list;	/* 32-bit list (compat tasks), 0 if none */
	u64 clear_child_tid;
	u32 umask, pdeath_signal;
	u64 rlim[CKPT_PROC_NLIMITS][2];	/* cur, max */
};

int ckpt_proc_signals(struct task_struct *task, struct ckpt_proc_signals *out);
int ckpt_proc_task_state(struct task_struct *task, struct ckpt_proc_task_state *out);

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
int ckpt_proc_restore_fill(u64 addr, const u8 *data, u32 len);
int ckpt_proc_restore_mm(const u64 *layout);
int ckpt_proc_restore_regs(const u64 *regs);
u64 ckpt_proc_restore_vdso(u64 *len);
void ckpt_proc_restore_kill(void);
int ckpt_proc_restore_rseq_valid(u64 addr, u32 len);
u64 ckpt_proc_restore_sa_flags(void);
void ckpt_proc_restore_signals(const struct ckpt_proc_signals *s);
int ckpt_proc_restore_task(const struct ckpt_proc_task_state *st);

#endif /* CKPT_PROCESS_C_H */
