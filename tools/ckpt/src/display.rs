// SPDX-License-Identifier: GPL-2.0

//! Human-readable rendering of values shared by `show` and `check`.

use ckpt_image::{keys, EnvEntry, Timestamp, ValueType};

/// A byte string for a terminal: printable ASCII as is, the rest escaped.
pub fn text(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

pub fn time(t: Timestamp) -> String {
    format!("{}.{:09}", t.sec, t.nsec)
}

/// `name (0xKEY)` or just the key.
pub fn key(key: u32) -> String {
    match keys::lookup(key) {
        Some(k) => format!("{} ({key:#010x})", k.name),
        None => format!("{key:#010x}"),
    }
}

/// An entry's value.
pub fn value(e: &EnvEntry<'_>) -> String {
    let words = |width: usize| {
        let w: Vec<String> = (0..e.word_count())
            .map(|i| format!("{:0width$x}", e.word(i)))
            .collect();
        format!("[{}]", w.join(" "))
    };
    match e.vtype {
        ValueType::U32 => {
            let v = e.word(0);
            if v < 10 {
                v.to_string()
            } else {
                format!("{v} ({v:#x})")
            }
        }
        ValueType::U64 => format!("{:#x}", e.word(0)),
        ValueType::STRING => format!("\"{}\"", text(e.value)),
        ValueType::BITMAP32 => words(8),
        ValueType::BITMAP64 => words(16),
        _ => format!("0x{}", crate::json::hex(e.value)),
    }
}
