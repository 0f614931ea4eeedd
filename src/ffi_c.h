/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ckpt: bindgen's input (see Kbuild and src/ffi.rs), never compiled as C: every
 * header of the C glue, read with the UAPI include paths only. The headers name
 * the kernel's fixed-size types (u64, ..., size_t), which only the
 * kernel-internal <linux/types.h> defines; here they are the UAPI types of the
 * same size. Kernel structs the headers declare (struct file;) are taken from
 * kernel::bindings.
 * A new glue header is one more #include line below.
 */
#include <linux/types.h>

#define u8 __u8
#define u16 __u16
#define u32 __u32
#define u64 __u64
#define s8 __s8
#define s16 __s16
#define s32 __s32
#define s64 __s64
#define bool _Bool
#define size_t __kernel_size_t

#include "glue_c.h"
#include "process_c.h"
