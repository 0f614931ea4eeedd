// SPDX-License-Identifier: GPL-2.0
/*
 * The child of cpu-model-check's whole-process case: a static program
 * without libc (built -static -nostdlib) that closes its fds 0-63, loads two
 * 32-byte patterns into ymm3 and ymm12 (so the upper halves of the ymm
 * registers are in use: XSTATE_BV bit 2), stops itself with
 * kill(getpid(), SIGSTOP), and when it runs on checks both registers against
 * the patterns, whole: it exits with status 42 if they came back, 1 if not.
 * Only AVX (VEX.256 loads, VEX.128 compares, vextractf128) is used, no AVX2.
 * The patterns: ymm3 holds the bytes 0x10..0x2f, ymm12 0x80..0x9f, in order.
 */
__asm__(
	".text\n"
	".globl _start\n"
	"_start:\n"
	/* for (fd = 0; fd < 64; fd++) close(fd); */
	"	xor %ebx, %ebx\n"
	"1:\n"
	"	mov $3, %eax\n"
	"	mov %ebx, %edi\n"
	"	syscall\n"
	"	inc %ebx\n"
	"	cmp $64, %ebx\n"
	"	jne 1b\n"
	"	vmovdqu pat3(%rip), %ymm3\n"
	"	vmovdqu pat12(%rip), %ymm12\n"
	/* kill(getpid(), SIGSTOP) */
	"	mov $39, %eax\n"
	"	syscall\n"
	"	mov %eax, %edi\n"
	"	mov $19, %esi\n"
	"	mov $62, %eax\n"
	"	syscall\n"
	/* each 16-byte half of ymm3 and ymm12 against its pattern */
	"	vpcmpeqb pat3(%rip), %xmm3, %xmm0\n"
	"	vpmovmskb %xmm0, %eax\n"
	"	cmp $0xffff, %eax\n"
	"	jne 2f\n"
	"	vextractf128 $1, %ymm3, %xmm1\n"
	"	vpcmpeqb pat3+16(%rip), %xmm1, %xmm0\n"
	"	vpmovmskb %xmm0, %eax\n"
	"	cmp $0xffff, %eax\n"
	"	jne 2f\n"
	"	vpcmpeqb pat12(%rip), %xmm12, %xmm0\n"
	"	vpmovmskb %xmm0, %eax\n"
	"	cmp $0xffff, %eax\n"
	"	jne 2f\n"
	"	vextractf128 $1, %ymm12, %xmm1\n"
	"	vpcmpeqb pat12+16(%rip), %xmm1, %xmm0\n"
	"	vpmovmskb %xmm0, %eax\n"
	"	cmp $0xffff, %eax\n"
	"	jne 2f\n"
	/* exit_group(42) */
	"	mov $42, %edi\n"
	"	mov $231, %eax\n"
	"	syscall\n"
	"2:\n"
	"	mov $1, %edi\n"
	"	mov $231, %eax\n"
	"	syscall\n"
	"	ud2\n"
	".section .rodata\n"
	".balign 32\n"
	"pat3:\n"
	"	.byte 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17\n"
	"	.byte 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f\n"
	"	.byte 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27\n"
	"	.byte 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f\n"
	"pat12:\n"
	"	.byte 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87\n"
	"	.byte 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f\n"
	"	.byte 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97\n"
	"	.byte 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f\n"
	".section .note.GNU-stack,\"\",@progbits\n"
);
