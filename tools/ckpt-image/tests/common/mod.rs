// SPDX-License-Identifier: GPL-2.0

//! Sample objects and images shared by the codec tests; the golden vectors are built here.

#![allow(dead_code)] // each test binary uses a different subset

use ckpt_image::*;

mod bless;
#[allow(unused_imports)] // as dead_code above
pub use bless::bless;

/// A fixed header (fixed time, so images are reproducible).
pub fn header() -> Header {
    Header {
        arch: Arch::X86_64,
        page_size: 4096,
        flags: HEADER_FLAG_SYNTHETIC,
        created: Timestamp {
            sec: 1_700_000_000,
            nsec: 123_456_789,
        },
        utsname: Utsname::new(
            b"Linux",
            b"6.12.0-ckpt",
            b"#1 SMP PREEMPT_DYNAMIC",
            b"x86_64",
        )
        .unwrap(),
    }
}

/// x86 capability words of a made-up but plausible CPU.
pub const CAPS: [u32; 4] = [0x178b_fbff, 0x7ed8_320b, 0x2c10_0800, 0x0000_0121];

/// The environment every sample image records.
pub fn sample_env(w: &mut EnvWriter<'_>) -> Result<(), EnvStop> {
    use keys::*;
    const C: u16 = ENV_FLAG_CRITICAL;
    w.put(ARCH, Rule::EQUAL, C, EnvValue::U32(1))?;
    w.put(PAGE_SIZE, Rule::EQUAL, C, EnvValue::U32(4096))?;
    w.put(KERNEL_RELEASE, Rule::INFO, 0, EnvValue::Str(b"6.12.0-ckpt"))?;
    w.put(
        KCONFIG_DIGEST,
        Rule::EQUAL,
        0,
        EnvValue::Bytes(&[0xde, 0xad, 0xbe, 0xef]),
    )?;
    w.put(USER_ABIS, Rule::SUBSET, C, EnvValue::Bitmap32(&[0b011]))?;
    w.put(VDSO_MODE, Rule::EQUAL, C, EnvValue::U32(1))?;
    w.put(CPU_VENDOR, Rule::EQUAL, C, EnvValue::Str(b"GenuineIntel"))?;
    w.put(CPU_FAMILY, Rule::EQUAL, 0, EnvValue::U32(6))?;
    w.put(CPU_MODEL, Rule::EQUAL, 0, EnvValue::U32(0x8c))?;
    w.put(CPU_STEPPING, Rule::INFO, 0, EnvValue::U32(1))?;
    w.put(X86_CAPABILITY, Rule::SUBSET, C, EnvValue::Bitmap32(&CAPS))?;
    w.put(XSAVE_FEATURES, Rule::SUBSET, C, EnvValue::U64(0x2e7))?;
    w.put(XSAVE_SIZE, Rule::AT_MOST, C, EnvValue::U32(2696))?;
    w.put(CONFIG_IA32_EMULATION, Rule::SUBSET, C, EnvValue::U32(1))?;
    w.put(BOOT_VSYSCALL, Rule::EQUAL, C, EnvValue::U32(1))?;
    // A distribution-private key: checkers need not know it to apply its rule.
    w.put(0x8000_0001, Rule::AT_MOST, 0, EnvValue::U64(3))
}

/// What the sample task uses of the environment.
pub fn sample_task_env(w: &mut EnvWriter<'_>) -> Result<(), EnvStop> {
    use keys::*;
    w.put(
        USER_ABIS,
        Rule::SUBSET,
        ENV_FLAG_CRITICAL,
        EnvValue::Bitmap32(&[0b001]),
    )?;
    w.put(
        XSAVE_FEATURES,
        Rule::SUBSET,
        ENV_FLAG_CRITICAL,
        EnvValue::U64(0x7),
    )?;
    w.put(
        XSAVE_SIZE,
        Rule::AT_MOST,
        ENV_FLAG_CRITICAL,
        EnvValue::U32(832),
    )
}

pub fn comm(name: &[u8]) -> [u8; COMM_LEN] {
    let mut c = [0u8; COMM_LEN];
    c[..name.len()].copy_from_slice(name);
    c
}

pub fn task(pid: u32, file_table: u64) -> Task<'static> {
    Task {
        pid,
        tgid: 100,
        ppid: 1,
        uid: 1000,
        gid: 1000,
        euid: 1000,
        egid: 1000,
        suid: 1000,
        sgid: 1000,
        fsuid: 1000,
        fsgid: 1000,
        comm: comm(b"sleeper"),
        file_table,
        cwd: b"/home/user",
        root: b"/",
    }
}

pub fn file(path: &'static [u8], variant: FileVariant<'static>) -> File<'static> {
    File {
        f_flags: 0o100002,
        f_mode: 0x3,
        mode: 0o100644,
        pos: 42,
        dev: 0x803,
        ino: 131_073,
        size: 4096,
        mtime: Timestamp {
            sec: 1_699_999_000,
            nsec: 5,
        },
        ctime: Timestamp {
            sec: 1_699_999_001,
            nsec: 6,
        },
        path,
        variant,
    }
}

/// One file of every kind.
pub fn sample_files() -> [File<'static>; 5] {
    [
        file(b"/etc/hostname", FileVariant::Regular),
        file(
            b"/home/user/data.log",
            FileVariant::Ext {
                generation: 0x1234_5678,
                handle_type: 1,
                handle: &[1, 0, 2, 0, 0x78, 0x56, 0x34, 0x12],
            },
        ),
        file(
            b"/home/user",
            FileVariant::Directory {
                cookie: DirCookieMode::Hash64,
            },
        ),
        file(b"/dev/null", FileVariant::CharDevice { rdev: 0x103 }),
        file(
            b"pipe:[4242]",
            FileVariant::External {
                fd_kind: ExternalFdKind::PIPE,
            },
        ),
    ]
}

/// Smallest valid image: header, environment vector, terminator.
pub fn minimal_image() -> Vec<u8> {
    let mut enc = Encoder::new(Vec::new(), &header()).unwrap();
    enc.write_env_vector(1, sample_env).unwrap();
    enc.finish().unwrap()
}

/// One of everything: files of every kind, a shared file table, two threads with their task
/// vectors, and an unknown optional record that readers must skip.
pub fn full_image() -> Vec<u8> {
    let mut enc = Encoder::new(Vec::new(), &header()).unwrap();
    enc.write_env_vector(1, sample_env).unwrap();
    let files = sample_files();
    for (i, f) in files.iter().enumerate() {
        enc.write_file(10 + i as u64, f).unwrap();
    }
    let table = [
        FdEntry {
            fd: 0,
            flags: 0,
            file: 14,
        },
        FdEntry {
            fd: 1,
            flags: 0,
            file: 13,
        },
        FdEntry {
            fd: 2,
            flags: 0,
            file: 13,
        },
        FdEntry {
            fd: 3,
            flags: FD_FLAG_CLOEXEC,
            file: 10,
        },
        FdEntry {
            fd: 4,
            flags: 0,
            file: 11,
        },
        FdEntry {
            fd: 7,
            flags: FD_FLAG_CLOEXEC,
            file: 12,
        },
    ];
    enc.write_file_table(20, &table).unwrap();
    enc.write_task(30, &task(100, 20)).unwrap();
    enc.write_task_vector(31, 30, sample_task_env).unwrap();
    enc.write_raw_record(RecordType(0x7f00), 0, 32, b"future optional data")
        .unwrap();
    enc.write_task(40, &task(101, 20)).unwrap();
    enc.write_task_vector(41, 40, sample_task_env).unwrap();
    enc.finish().unwrap()
}

/// Every record of `image`, decoded through the streaming decoder, as debug strings.
pub fn decode_all(image: &[u8]) -> Result<Vec<String>, DecodeError<std::convert::Infallible>> {
    let mut buf = vec![0u8; 1 << 16];
    let mut dec = Decoder::new(image)?;
    let mut out = vec![format!("{:?}", dec.header())];
    while let Some(r) = dec.next_record(&mut buf)? {
        out.push(format!("{r:?}"));
    }
    dec.expect_end()?;
    Ok(out)
}

/// The format error `image` decodes to (panics if it decodes fine).
pub fn decode_error(image: &[u8]) -> FormatError {
    match decode_all(image) {
        Err(DecodeError::Format(e)) => e,
        Err(DecodeError::Source(never)) => match never {},
        Ok(_) => panic!("image decoded without error"),
    }
}

/// Patches a little-endian u32 at `at`.
pub fn patch_u32(image: &mut [u8], at: usize, v: u32) {
    image[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Type, flags, id and payload of a hand-made record.
pub type RawRecord<'a> = (u16, u16, u64, &'a [u8]);

/// Assembles an image from raw records with a correct terminator, bypassing the encoder's
/// rules, to test that the decoder enforces them on its own.
pub fn assemble(records: &[RawRecord<'_>]) -> Vec<u8> {
    let mut img = Vec::new();
    // The encoder writes a valid header; reuse it, then append hand-made records.
    Encoder::new(&mut img, &header()).unwrap();
    for &(rtype, flags, id, payload) in records {
        img.extend_from_slice(&rtype.to_le_bytes());
        img.extend_from_slice(&flags.to_le_bytes());
        img.extend_from_slice(&((payload.len() + RECORD_HEADER_LEN) as u32).to_le_bytes());
        img.extend_from_slice(&id.to_le_bytes());
        img.extend_from_slice(payload);
    }
    let image_len = img.len() as u64;
    img.extend_from_slice(&RecordType::TERMINATOR.0.to_le_bytes());
    img.extend_from_slice(&RECORD_FLAG_CRITICAL.to_le_bytes());
    img.extend_from_slice(&TERMINATOR_LEN.to_le_bytes());
    img.extend_from_slice(&0u64.to_le_bytes());
    img.extend_from_slice(&(records.len() as u64).to_le_bytes());
    img.extend_from_slice(&image_len.to_le_bytes());
    let crc = Crc32c::new().update(&img).value();
    img.extend_from_slice(&crc.to_le_bytes());
    img
}

/// Payload of the sample environment vector.
pub fn env_payload() -> Vec<u8> {
    let mut v = Vec::new();
    encode_env_payload(&mut v, sample_env).unwrap();
    v
}

/// A process's memory: an executable file, its mm, a map with every VMA kind (private and
/// shared file mappings, anonymous memory, heap, stack, vDSO, vvar) and pages of three of them.
pub fn process_image() -> Vec<u8> {
    process_image_with(crc32c_tables)
}

/// A growable image whose encoder checksums with `engine`, as the module's sink does with the
/// kernel's `crc32c()`.
pub struct EngineSink {
    pub bytes: Vec<u8>,
    pub engine: Crc32cFn,
}

impl Sink for EngineSink {
    type Error = std::convert::Infallible;

    fn write(&mut self, data: &[u8]) -> Result<(), Self::Error> {
        self.bytes.extend_from_slice(data);
        Ok(())
    }

    fn crc32c(&self) -> Crc32cFn {
        self.engine
    }
}

/// [`process_image`], its checksums (the running one, PAGES records') computed with `engine`.
pub fn process_image_with(engine: Crc32cFn) -> Vec<u8> {
    let sink = EngineSink {
        bytes: Vec::new(),
        engine,
    };
    let mut enc = Encoder::new(sink, &header()).unwrap();
    enc.write_env_vector(1, sample_env).unwrap();
    enc.write_file(10, &file(b"/tmp/prog", FileVariant::Regular))
        .unwrap();
    enc.write_file(11, &file(b"/tmp/data", FileVariant::Regular))
        .unwrap();
    let mut auxv = Vec::new();
    for (k, v) in [
        (6u64, 4096u64),
        (25, 0x7ffd_0000_1000),
        (33, 0x7ffd_f000_0000),
    ] {
        auxv.extend_from_slice(&k.to_le_bytes());
        auxv.extend_from_slice(&v.to_le_bytes());
    }
    let mm = Mm::new(
        [
            0x40_0000,
            0x40_1000,
            0x40_2000,
            0x40_3000,
            0x40_4000,
            0x40_6000,
            0x7ffd_0000_1f00,
            0x7ffd_0000_1f10,
            0x7ffd_0000_1f20,
            0x7ffd_0000_1f20,
            0x7ffd_0000_1ff0,
        ],
        10,
        (0x7ffd_f000_0000, 0x2000, 0x1234_5678),
        0,
    )
    .with_auxv(&auxv);
    enc.write_mm(20, &mm).unwrap();
    let vmas = sample_vmas();
    for (i, v) in vmas.iter().enumerate() {
        enc.write_vma(30 + i as u64, v).unwrap();
    }
    let regs: Vec<u8> = (0..X86_64_PRSTATUS_LEN as u8).collect();
    enc.write_regset(
        37,
        &Regset {
            note: NT_PRSTATUS,
            data: &regs,
        },
    )
    .unwrap();
    let mut xstate = vec![0u8; 832];
    xstate[160..176].copy_from_slice(&[0x5a; 16]); // xmm0
    xstate[512] = 0x7; // xstate_bv: x87, SSE, AVX
    enc.write_regset(
        38,
        &Regset {
            note: NT_X86_XSTATE,
            data: &xstate,
        },
    )
    .unwrap();
    enc.write_task(40, &task(100, 0)).unwrap();
    let page = |fill: u8| vec![fill; 4096];
    let two: Vec<u8> = [page(0xaa), page(0x55)].concat();
    enc.write_pages(
        50,
        &Pages::new_with(engine, 30, 0x40_2000, 4096, &page(0x11)),
    )
    .unwrap();
    enc.write_pages(
        51,
        &Pages::new_with(engine, 32, 0x7f00_0000_0000, 4096, &two),
    )
    .unwrap();
    enc.write_pages(
        52,
        &Pages::new_with(engine, 32, 0x7f00_0000_3000, 4096, &page(1)),
    )
    .unwrap();
    enc.write_pages(53, &Pages::new_with(engine, 33, 0x40_4000, 4096, &page(0)))
        .unwrap();
    enc.write_pages(
        54,
        &Pages::new_with(engine, 34, 0x7ffd_0000_1000, 4096, &page(0xfe)),
    )
    .unwrap();
    enc.finish().unwrap().bytes
}

/// The map of [`process_image`] (record ids 30 to 36).
pub fn sample_vmas() -> [Vma; 7] {
    let vma = |start, end, offset, file, prot, flags, kind| Vma {
        start,
        end,
        offset,
        file,
        prot,
        flags,
        kind,
    };
    [
        vma(
            0x40_2000,
            0x40_4000,
            0x2000,
            10,
            PROT_READ | PROT_WRITE,
            VMA_MAYWRITE,
            VmaKind::FILE,
        ),
        vma(
            0x7e00_0000_0000,
            0x7e00_0000_2000,
            0,
            11,
            PROT_READ | PROT_WRITE,
            VMA_SHARED | VMA_MAYWRITE,
            VmaKind::FILE,
        ),
        vma(
            0x7f00_0000_0000,
            0x7f00_1000_0000,
            0,
            0,
            PROT_READ | PROT_WRITE,
            VMA_MAYWRITE | VMA_NORESERVE,
            VmaKind::ANON,
        ),
        vma(
            0x40_4000,
            0x40_6000,
            0,
            0,
            PROT_READ | PROT_WRITE,
            VMA_MAYWRITE,
            VmaKind::HEAP,
        ),
        vma(
            0x7ffd_0000_0000,
            0x7ffd_0000_2000,
            0,
            0,
            PROT_READ | PROT_WRITE,
            VMA_GROWSDOWN | VMA_MAYWRITE,
            VmaKind::STACK,
        ),
        vma(
            0x7ffd_efff_c000,
            0x7ffd_f000_0000,
            0,
            0,
            PROT_READ,
            0,
            VmaKind::VVAR,
        ),
        vma(
            0x7ffd_f000_0000,
            0x7ffd_f000_2000,
            0,
            0,
            PROT_READ | PROT_EXEC,
            VMA_MAYEXEC,
            VmaKind::VDSO,
        ),
    ]
}

/// The actions of [`sample_signals`]: SIGUSR1 handled (SA_RESTART|SA_ONSTACK|SA_RESTORER|
/// SA_SIGINFO, masking SIGUSR2 and SIGRTMIN+1), SIGPIPE ignored, SIGRTMIN+2 handled.
pub fn sample_actions() -> Vec<u8> {
    let mut raw = vec![0u8; SIGACTIONS_LEN];
    let mut set = |sig: u32, a: SigAction| {
        let at = (sig as usize - 1) * SIGACTION_LEN;
        assert!(a.encode(&mut raw[at..at + SIGACTION_LEN]));
    };
    set(
        10,
        SigAction {
            handler: 0x40_1234,
            flags: 0x1c00_0004,
            restorer: 0x40_5678,
            mask: (1 << 11) | (1 << 32),
        },
    );
    set(
        13,
        SigAction {
            handler: SigAction::IGN,
            ..SigAction::default()
        },
    );
    set(
        34,
        SigAction {
            handler: 0x40_2000,
            flags: 0x0400_0000,
            restorer: 0x40_5678,
            mask: 0,
        },
    );
    raw
}

/// A SIGNALS record over `actions`: SIGUSR2 and SIGRTMIN+3 blocked, an alternate stack with
/// SS_AUTODISARM.
pub fn sample_signals(actions: &[u8]) -> Signals<'_> {
    Signals::new(
        (1 << 11) | (1 << 34),
        (0x7f00_1000_0000, 0x4000, SS_AUTODISARM),
        actions,
    )
}

/// A TASK_STATE record as a static glibc program has it, with umask 027, a lowered
/// RLIMIT_NOFILE and a custom RLIMIT_CORE.
pub fn sample_task_state() -> TaskState {
    let mut rlimits = [Rlimit {
        cur: RLIM_INFINITY,
        max: RLIM_INFINITY,
    }; RLIM_NLIMITS as usize];
    rlimits[3] = Rlimit {
        cur: 8 << 20,
        max: RLIM_INFINITY,
    };
    rlimits[4] = Rlimit {
        cur: 4096,
        max: 1 << 20,
    };
    rlimits[7] = Rlimit { cur: 64, max: 1024 };
    TaskState {
        rseq: 0x4c_9fe0,
        rseq_len: 32,
        rseq_sig: 0x5305_3053,
        robust_list: 0x4c_9a20,
        robust_list_len: 24,
        clear_child_tid: 0x4c_9a10,
        umask: 0o027,
        pdeath_signal: 15,
        rlimits,
    }
}

/// An image with a task, its task vector and its SIGNALS and TASK_STATE records (ids 1 to 5).
pub fn sigstate_image() -> Vec<u8> {
    let actions = sample_actions();
    let mut enc = Encoder::new(Vec::new(), &header()).unwrap();
    enc.write_env_vector(1, sample_env).unwrap();
    enc.write_task(2, &task(100, 0)).unwrap();
    enc.write_task_vector(3, 2, sample_task_env).unwrap();
    enc.write_signals(4, &sample_signals(&actions)).unwrap();
    enc.write_task_state(5, &sample_task_state()).unwrap();
    enc.finish().unwrap()
}
