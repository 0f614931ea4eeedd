// SPDX-License-Identifier: GPL-2.0

//! The `ckpt` binary on the golden vectors: output, exit statuses (0 ok/compatible,
//! 1 incompatible, 2 unreadable) and one-line errors. The JSON files in tools/testdata are
//! pinned too; `CKPT_BLESS=1` rewrites them after a deliberate change.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(name)
}

// The codec tests' `CKPT_BLESS` switch, one definition for both.
use common::bless;

fn ckpt(args: &[&str]) -> Output {
    ckpt_stdin(args, &[])
}

fn ckpt_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ckpt"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The child may exit before reading everything (bad input): ignore EPIPE.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

fn path(name: &str) -> String {
    testdata(name).to_str().unwrap().to_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// Asserts a failure: the status, and exactly one `ckpt: ` line on stderr mentioning `what`.
fn assert_fails(o: &Output, status: i32, what: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(status), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("ckpt: "), "{err}");
    assert!(err.contains(what), "{err:?} lacks {what:?}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Compares `actual` with a pinned file, or rewrites it when blessing.
fn pinned(name: &str, actual: &str) {
    let file = testdata(name);
    if bless() {
        std::fs::write(&file, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e} (CKPT_BLESS=1 creates it)", file.display()));
    assert!(
        expected == actual,
        "{name} differs from the output; rerun with CKPT_BLESS=1 if the change is deliberate"
    );
}

#[test]
fn show_text_lists_everything() {
    let o = ckpt(&["show", &path("full.img")]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    for expected in [
        "arch       x86_64",
        "environment (record id 1, 16 entries)",
        "x86_capability (0x00010010)",
        "file id 11 (127 bytes): ext /home/user/data.log",
        "fd 3 -> file 10 cloexec",
        "task id 30 (103 bytes): pid 100 tgid 100 ppid 1 comm \"sleeper\"",
        "task_vector id 31 (84 bytes): task 30, 3 entries",
        "type#0x7f00 id 32 (36 bytes): unknown optional record, skipped",
        "terminator @1695: 12 records, 1695 bytes",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn show_json_is_pinned_and_synth_reproduces_the_bytes() {
    for name in ["minimal", "full", "process"] {
        let o = ckpt(&["show", "--json", &path(&format!("{name}.img"))]);
        assert_eq!(o.status.code(), Some(0));
        let json = stdout(&o);
        pinned(&format!("{name}.json"), &json);
        // JSON -> image gives the very same bytes (the sample images are marked synthetic).
        let o = ckpt_stdin(&["synth", "-", "-o", "-"], json.as_bytes());
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(
            o.stdout,
            std::fs::read(testdata(&format!("{name}.img"))).unwrap()
        );
    }
}

#[test]
fn show_text_prints_the_memory_map_with_page_counts() {
    let o = ckpt(&["show", &path("process.img")]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    for expected in [
        "mm id 20 (184 bytes): personality 0x0 exe file 10 /tmp/prog",
        "brk 0x404000-0x406000",
        "vdso 0x7ffdf0000000-0x7ffdf0002000 crc32c 0x12345678",
        "402000-404000 rw-p 00002000 file 10 /tmp/prog  (1 pages) maywrite",
        "7e0000000000-7e0000002000 rw-s 00000000 file 11 /tmp/data  (not dumped)",
        "7f0000000000-7f0010000000 rw-p 00000000 anon  (3 pages) noreserve,maywrite",
        "404000-406000 rw-p 00000000 [heap]  (1 pages)",
        "7ffd00000000-7ffd00002000 rw-p 00000000 [stack]  (1 pages) growsdown",
        "[vvar]  (not dumped)",
        "r-xp 00000000 [vdso]  (not dumped)",
        "pages id 51 (8232 bytes): vma 32 7f0000000000-7f0000002000 2 pages crc32c",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn show_reads_standard_input() {
    let img = std::fs::read(testdata("full.img")).unwrap();
    let o = ckpt_stdin(&["show", "-"], &img);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("verified"));
}

#[test]
fn damaged_images_are_unreadable_with_one_line() {
    let o = ckpt(&["show", &path("truncated.img")]);
    assert_fails(&o, 2, "image truncated (no terminator) at byte offset 1721");
    // Text output still lists what could be read before the damage.
    assert!(stdout(&o).contains("task_vector id 41"));
    let o = ckpt(&["show", "--json", &path("corrupt.img")]);
    assert_fails(&o, 2, "checksum mismatch");
    assert!(o.stdout.is_empty(), "no partial JSON");
    assert_fails(&ckpt(&["show", "/nonexistent.img"]), 2, "/nonexistent.img");
    assert_fails(&ckpt_stdin(&["show", "-"], b"LinuxC/R"), 2, "truncated");
    assert_fails(
        &ckpt_stdin(&["show", "-"], b"not an image at all"),
        2,
        "bad magic",
    );
}

#[test]
fn every_truncation_is_refused_cleanly() {
    let img = std::fs::read(testdata("full.img")).unwrap();
    for len in (0..img.len()).step_by(41) {
        let o = ckpt_stdin(&["show", "--json", "-"], &img[..len]);
        assert_fails(&o, 2, "truncated");
    }
}

/// The host environments for `check`, derived from the pinned JSON of full.img.
fn host_envs() -> (String, String) {
    let full: Value =
        serde_json::from_str(&std::fs::read_to_string(testdata("full.json")).unwrap()).unwrap();
    let same = full["environment"].clone();
    let mut other = same.clone();
    let entries = other["entries"].as_array_mut().unwrap();
    for e in entries.iter_mut() {
        match e["name"].as_str() {
            Some("cpu_vendor") => e["value"] = "AuthenticAMD".into(),
            Some("cpu_model") => e["value"] = 1.into(),
            Some("x86_capability") => e["value"][1] = "0x0ed8320b".into(),
            Some("xsave_size") => e["value"] = 800.into(),
            _ => {}
        }
    }
    entries.retain(|e| e["name"] != "boot_vsyscall");
    let same = serde_json::to_string_pretty(&same).unwrap() + "\n";
    let other = serde_json::to_string_pretty(&other).unwrap() + "\n";
    pinned("host-same.json", &same);
    pinned("host-other.json", &other);
    (path("host-same.json"), path("host-other.json"))
}

#[test]
fn check_decides_and_lists_every_mismatch() {
    let (same, other) = host_envs();
    let o = ckpt(&["check", &path("full.img"), "--env", &same]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        "compatible: 0 critical, 0 advisory mismatches in 20 checked entries\n"
    );

    let o = ckpt(&["check", &path("full.img"), "--env", &other]);
    assert_eq!(o.status.code(), Some(1));
    // host-other.json lacks word 1 bits 28..30 of x86_capability: per cpufeatures.h bit 29 is
    // "lm", bit 30 "3dnowext", bit 28 has no name.
    assert_eq!(
        stdout(&o),
        "environment mismatch (6 critical, 1 advisory)\n\
         critical (restart is refused):\n\
         \x20 cpu_vendor: values differ (image \"GenuineIntel\", host \"AuthenticAMD\")\n\
         \x20 x86_capability: the host lacks lm, 3dnowext, word 1 bit 28\n\
         \x20 xsave_size: image value exceeds host value (image 2696, host 800)\n\
         \x20 boot_vsyscall: missing on host\n\
         \x20 task 30 (pid 100) xsave_size: image value exceeds host value (image 832, host 800)\n\
         \x20 task 40 (pid 101) xsave_size: image value exceeds host value (image 832, host 800)\n\
         advisory (restart is refused unless accepted):\n\
         \x20 cpu_model: values differ (image 140, host 1)\n\
         advice: restart on a host where these match the image, or checkpoint on one that \
         matches the target\n\
         incompatible: 6 critical, 1 advisory mismatches in 20 checked entries\n"
    );
}

#[test]
fn check_json_keeps_raw_values_and_names_missing_bits() {
    let (_, other) = host_envs();
    let o = ckpt(&["check", &path("full.img"), "--env", &other, "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["compatible"], false);
    assert_eq!(
        (v["critical"].as_u64(), v["advisory"].as_u64()),
        (Some(6), Some(1))
    );
    let m = &v["mismatches"];
    assert_eq!(m.as_array().unwrap().len(), 7);
    assert_eq!(m[6]["name"], "cpu_model"); // advisory last
    let caps = &m[1];
    assert_eq!(caps["name"], "x86_capability");
    assert_eq!(caps["scope"], "environment");
    assert_eq!(caps["image"][1], "0x7ed8320b");
    assert_eq!(caps["host"][1], "0x0ed8320b");
    assert_eq!(
        caps["missing"],
        serde_json::json!([
            {"word": 1, "bit": 28, "name": null},
            {"word": 1, "bit": 29, "name": "lm"},
            {"word": 1, "bit": 30, "name": "3dnowext"},
        ])
    );
    assert_eq!(
        caps["text"],
        "x86_capability: the host lacks lm, 3dnowext, word 1 bit 28"
    );
    assert_eq!(m[4]["scope"], "task 30 (pid 100)");
    assert!(v["advice"]
        .as_str()
        .unwrap()
        .starts_with("restart on a host"));
}

#[test]
fn check_against_another_image_and_from_stdin() {
    let img = std::fs::read(testdata("full.img")).unwrap();
    let o = ckpt_stdin(&["check", "-", "--env-image", &path("minimal.img")], &img);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn check_refuses_unreadable_inputs_with_status_2() {
    let (same, _) = host_envs();
    assert_fails(
        &ckpt(&["check", &path("corrupt.img"), "--env", &same]),
        2,
        "checksum",
    );
    assert_fails(
        &ckpt(&["check", &path("truncated.img"), "--env", &same]),
        2,
        "truncated",
    );
    let dir = std::env::temp_dir().join(format!("ckpt-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let cases = [
        ("syntax.json", "{", "EOF"),
        (
            "type.json",
            r#"{"entries":[{"key":1,"type":"u32","rule":"equal","critical":true,"value":"x"}]}"#,
            "bad number",
        ),
        (
            "rule.json",
            r#"{"entries":[{"key":1,"type":"string","rule":"subset","critical":true,"value":"x"}]}"#,
            "rule does not apply",
        ),
        (
            "key.json",
            r#"{"entries":[{"key":"no_such_key","type":"u32","rule":"equal","critical":true,"value":1}]}"#,
            "no_such_key",
        ),
    ];
    for (name, text, what) in cases {
        let env = write(name, text);
        assert_fails(&ckpt(&["check", &path("full.img"), "--env", &env]), 2, what);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hand_written_env_may_use_names_and_any_order() {
    let dir = std::env::temp_dir().join(format!("ckpt-cli-names-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let env = dir.join("env.json");
    // Only what minimal.img requires critically; keys by name, out of order.
    let full: Value =
        serde_json::from_str(&std::fs::read_to_string(testdata("full.json")).unwrap()).unwrap();
    let mut entries: Vec<Value> = full["environment"]["entries"].as_array().unwrap().clone();
    for e in &mut entries {
        if let Some(name) = e["name"].as_str() {
            e["key"] = name.into();
        }
        e.as_object_mut().unwrap().remove("name");
    }
    entries.reverse();
    std::fs::write(&env, serde_json::json!({ "entries": entries }).to_string()).unwrap();
    let o = ckpt(&[
        "check",
        &path("minimal.img"),
        "--env",
        env.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::remove_dir_all(Path::new(&dir)).unwrap();
}

#[test]
fn usage_errors_exit_2() {
    let o = ckpt(&[
        "check",
        &path("full.img"),
        "--env",
        "a.json",
        "--env-image",
        "b.img",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = ckpt(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn check_without_env_asks_the_device_and_exits_3_without_it() {
    // Without --env or --env-image the host environment comes from /dev/ckpt (CKPT_IOC_ENV);
    // the guest tests exercise that path, here the module is not loaded.
    if Path::new("/dev/ckpt").exists() {
        // The module is loaded here: the same commands must then work.
        let o = ckpt(&["env", "--json"]);
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        let env: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(
            env["entries"].as_array().is_some_and(|e| !e.is_empty()),
            "{env}"
        );
        let o = ckpt(&["check", &path("full.img")]);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{o:?}");
        return;
    }
    assert_fails(&ckpt(&["check", &path("full.img")]), 3, "/dev/ckpt");
    assert_fails(&ckpt(&["env"]), 3, "/dev/ckpt");
    assert_fails(&ckpt(&["env", "--json"]), 3, "/dev/ckpt");
}

#[path = "../../ckpt-image/tests/common/mod.rs"]
mod common;

#[test]
fn show_prints_the_signal_and_task_state_and_json_round_trips() {
    let img = common::sigstate_image();
    let o = ckpt_stdin(&["show", "-"], &img);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = stdout(&o);
    for expected in [
        "signals id 4 (2096 bytes): blocked 0x0000000400000800",
        "      blocked  SIGUSR2 SIGRTMIN+3",
        "      ignored  SIGPIPE",
        "      handled  SIGUSR1 SIGRTMIN+2",
        "      SIGUSR1      handler 0x401234 flags SIGINFO|RESTORER|ONSTACK|RESTART restorer \
         0x405678 mask SIGUSR2 SIGRTMIN+1",
        "      SIGRTMIN+2   handler 0x402000 flags RESTORER restorer 0x405678 mask -",
        "      altstack 0x7f0010000000-0x7f0010004000 (16384 bytes) autodisarm",
        "task_state id 5 (328 bytes): umask 0027",
        "      rseq 0x4c9fe0 (32 bytes) signature 0x53053053",
        "      robust list 0x4c9a20 (24 bytes)",
        "      clear_child_tid 0x4c9a10",
        "      parent death signal SIGTERM",
        "      nofile                         64                 1024",
        "      core                         4096              1048576",
        "      cpu                     unlimited            unlimited",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let o = ckpt_stdin(&["show", "--json", "-"], &img);
    assert_eq!(o.status.code(), Some(0));
    let json = stdout(&o);
    let v: Value = serde_json::from_str(&json).unwrap();
    let sig = &v["records"][2];
    assert_eq!(sig["type"], "signals");
    assert_eq!(sig["blocked"], "0x400000800");
    assert_eq!(
        sig["blocked_names"],
        serde_json::json!(["SIGUSR2", "SIGRTMIN+3"])
    );
    assert_eq!(sig["altstack"]["flags"], "0x80000000");
    assert_eq!(sig["actions"][0]["name"], "SIGUSR1");
    assert_eq!(sig["actions"][0]["handler"], 0x40_1234);
    assert_eq!(sig["actions"][0]["flags"], "0x1c000004");
    assert_eq!(sig["actions"][1]["handler"], "ignore");
    let st = &v["records"][3];
    assert_eq!(st["type"], "task_state");
    assert_eq!(st["umask"], "0027");
    assert_eq!(st["rseq_sig"], "0x53053053");
    assert_eq!(
        st["rlimits"][7],
        serde_json::json!({"resource": "nofile", "cur": 64, "max": 1024})
    );
    assert_eq!(st["rlimits"][0]["cur"], "unlimited");
    // JSON -> image gives the very same bytes
    let o = ckpt_stdin(&["synth", "-", "-o", "-"], json.as_bytes());
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.stdout, img);
    // and synth refuses what the encoder refuses
    let bad = json.replacen("\"umask\": \"0027\"", "\"umask\": \"1777\"", 1);
    let o = ckpt_stdin(&["synth", "-", "-o", "-"], bad.as_bytes());
    assert_ne!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("task state"));
}
