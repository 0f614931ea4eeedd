// SPDX-License-Identifier: GPL-2.0
/*
 * The child of ckpt_process_restart_test: a static program without libc
 * (built -static -nostdlib) that counts in three places, one step at a
 * time: a .bss word, the first word of an anonymous page it maps, and the
 * low quadword of xmm9 (xmm8 holds the increment, 1). At start it writes the
 * addresses of the .bss counter, the page and a quit flag to fd 3 (then
 * closes it); after each step it stops itself with kill(getpid(), SIGSTOP),
 * and it exits with status 42 at the step that finds the quit flag set.
 * Everything lives in registers and memory: after a restart, every counter
 * goes on from its value only if memory, registers and the xstate came back.
 */
__asm__(
	".text\n"
	".globl _start\n"
	"_start:\n"
	/* r12 = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) */
	"	mov $9, %eax\n"
	"	xor %edi, %edi\n"
	"	mov $4096, %esi\n"
	"	mov $3, %edx\n"
	"	mov $0x22, %r10d\n"
	"	mov $-1, %r8\n"
	"	xor %r9d, %r9d\n"
	"	syscall\n"
	"	mov %rax, %r12\n"
	/* info = { &counter, page, &quit }; write(3, &info, 24); close(3) */
	"	lea info(%rip), %rsi\n"
	"	lea counter(%rip), %rax\n"
	"	mov %rax, (%rsi)\n"
	"	mov %r12, 8(%rsi)\n"
	"	lea quit(%rip), %rax\n"
	"	mov %rax, 16(%rsi)\n"
	"	mov $1, %eax\n"
	"	mov $3, %edi\n"
	"	mov $24, %edx\n"
	"	syscall\n"
	"	mov $3, %eax\n"
	"	mov $3, %edi\n"
	"	syscall\n"
	/* xmm9 = 0, xmm8 = 1 */
	"	pxor %xmm9, %xmm9\n"
	"	mov $1, %eax\n"
	"	movq %rax, %xmm8\n"
	"1:\n"
	"	incq counter(%rip)\n"
	"	incq (%r12)\n"
	"	paddq %xmm8, %xmm9\n"
	"	cmpq $0, quit(%rip)\n"
	"	jne 2f\n"
	/* kill(getpid(), SIGSTOP) */
	"	mov $39, %eax\n"
	"	syscall\n"
	"	mov %eax, %edi\n"
	"	mov $19, %esi\n"
	"	mov $62, %eax\n"
	"	syscall\n"
	"	jmp 1b\n"
	"2:\n"
	"	mov $42, %edi\n"
	"	mov $231, %eax\n"
	"	syscall\n"
	"	ud2\n"
	".bss\n"
	".balign 8\n"
	"counter: .zero 8\n"
	"quit: .zero 8\n"
	"info: .zero 24\n"
	".section .note.GNU-stack,\"\",@progbits\n"
);
