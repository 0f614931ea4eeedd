// SPDX-License-Identifier: GPL-2.0
/*
 * C glue for src/env.rs: static inlines and macros of the x86 headers that
 * bindgen cannot expose to Rust, and structs it sees as opaque. Every
 * function reads exported state only (no symbol here may be unexported:
 * modpost would refuse the module). Each is small enough to be checked by
 * eye against the header it wraps.
 */
#include <linux/errno.h>
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/task_stack.h>
#include <linux/thread_info.h>
#include <linux/utsname.h>

#include <asm/cpuid/api.h>
#include <asm/fpu/types.h>
#include <asm/fpu/xcr.h>
#include <asm/processor.h>
#include <asm/ptrace.h>

/* Prototypes for the Rust side only (see env.rs), which declares them itself. */
const char *ckpt_uts_release(void);
const char *ckpt_uts_version(void);
void ckpt_cpuid_count(u32 leaf, u32 subleaf, u32 *out);
u64 ckpt_xgetbv0(void);
long ckpt_read_file(const char *path, char *buf, size_t size);
int ckpt_task_fpu(struct task_struct *task, u64 *user_xfeatures, u32 *user_size);
int ckpt_task_abis(struct task_struct *task);
int ckpt_task_vdso_mapped(struct task_struct *task);

/*
 * utsname release and version of the initial UTS namespace. Both are set
 * at build time and never written afterwards (only nodename and domainname
 * are writable), so they need no uts_sem. NUL-terminated, at most
 * __NEW_UTS_LEN bytes.
 */
const char *ckpt_uts_release(void)
{
	return init_uts_ns.name.release;
}

const char *ckpt_uts_version(void)
{
	return init_uts_ns.name.version;
}

/* CPUID(leaf, subleaf) on this CPU: out[0..4] = eax, ebx, ecx, edx. */
void ckpt_cpuid_count(u32 leaf, u32 subleaf, u32 *out)
{
	cpuid_count(leaf, subleaf, &out[0], &out[1], &out[2], &out[3]);
}

/* XCR0. The caller checks X86_FEATURE_OSXSAVE first (else XGETBV is #UD). */
u64 ckpt_xgetbv0(void)
{
	return xgetbv(XCR_XFEATURE_ENABLED_MASK);
}

/*
 * Reads a (procfs) file, path resolved in the caller's mount namespace,
 * into buf: at most size - 1 bytes, NUL-terminated. Used for /proc/cmdline
 * (saved_command_line is not exported to modules) and for sysctls whose
 * variables are not exported. Returns the length or a negative errno
 * (e.g. -ENOENT without procfs on /proc).
 */
long ckpt_read_file(const char *path, char *buf, size_t size)
{
	struct file *file;
	loff_t pos = 0;
	size_t len = 0;
	ssize_t n;

	if (size == 0)
		return -EINVAL;
	file = filp_open(path, O_RDONLY, 0);
	if (IS_ERR(file))
		return PTR_ERR(file);
	while (len < size - 1) {
		n = kernel_read(file, buf + len, size - 1 - len, &pos);
		if (n < 0) {
			filp_close(file, NULL);
			return n;
		}
		if (n == 0)
			break;
		len += n;
	}
	filp_close(file, NULL);
	buf[len] = '\0';
	return len;
}

/*
 * The user-visible xsave features of a task's FPU state (the features its
 * CPUID view advertises plus any dynamic feature it was granted, e.g. AMX
 * through arch_prctl(ARCH_REQ_XCOMP_PERM)) and the size of that state in
 * the standard (UABI) format. The task must be stopped or current: only the
 * task itself replaces its fpstate (when it first uses a dynamic feature).
 */
int ckpt_task_fpu(struct task_struct *task, u64 *user_xfeatures, u32 *user_size)
{
	struct fpstate *fps;
	struct fpu *fpu;

	if (task->flags & (PF_KTHREAD | PF_USER_WORKER))
		return -EINVAL;
	fpu = x86_task_fpu(task);
	if (!fpu)
		return -EINVAL;
	fps = READ_ONCE(fpu->fpstate);
	if (!fps)
		return -EINVAL;
	*user_xfeatures = fps->user_xfeatures;
	*user_size = fps->user_size;
	return 0;
}

/*
 * The user ABIs a task runs, as user_abis bits (bit 0 x86-64, bit 1 ia32,
 * bit 2 x32), or a negative errno. TIF_ADDR32 marks both compat ABIs
 * (set_personality_ia32()); x32 code runs in 64-bit mode, ia32 code does
 * not. A 64-bit process executing a 32-bit code segment right now needs
 * both x86-64 and ia32. The saved user registers are stable: the task is
 * stopped or current.
 */
int ckpt_task_abis(struct task_struct *task)
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

/* 1 if the task's mm has a vDSO mapped, 0 if not, -ESRCH without an mm. */
int ckpt_task_vdso_mapped(struct task_struct *task)
{
	struct mm_struct *mm = get_task_mm(task);
	int mapped;

	if (!mm)
		return -ESRCH;
	mapped = READ_ONCE(mm->context.vdso) != NULL;
	mmput(mm);
	return mapped;
}
