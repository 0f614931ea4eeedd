// SPDX-License-Identifier: GPL-2.0

//! Reading images from files or standard input, record by record (images may be piped).

use std::fs;
use std::io::{self, BufReader, Read};

use ckpt_image::{
    parse_body, Body, DecodeError, Decoder, Header, RecordHeader, Source, Terminator,
    RECORD_MAX_LEN,
};

/// Adapts `std::io::Read` to the codec's [`Source`].
pub struct ReadSource<R>(pub R);

impl<R: Read> Source for ReadSource<R> {
    type Error = io::Error;

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.0.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }
}

/// Opens `path`, or standard input for `-`.
pub fn open(path: &str) -> io::Result<Box<dyn Read>> {
    if path == "-" {
        Ok(Box::new(io::stdin().lock()))
    } else {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            fs::File::open(path)?,
        )))
    }
}

/// A record kept with its raw payload; [`OwnedRecord::body`] decodes it again on demand.
pub struct OwnedRecord {
    pub offset: u64,
    pub header: RecordHeader,
    pub payload: Vec<u8>,
}

impl OwnedRecord {
    /// The decoded body. The payload was validated when read, so this cannot fail.
    pub fn body(&self) -> Body<'_> {
        parse_body(&self.header, &self.payload).unwrap_or(Body::Unknown(None))
    }
}

/// An image as far as it could be read.
pub struct LoadedImage {
    pub header: Option<Header>,
    /// Records before the terminator, in order.
    pub records: Vec<OwnedRecord>,
    /// The verified terminator and its offset.
    pub terminator: Option<(u64, Terminator)>,
    /// Why reading stopped early, if it did (formatted on one line).
    pub error: Option<String>,
}

impl LoadedImage {
    /// The environment vector record (the first record of any readable image).
    pub fn environment(&self) -> Option<&OwnedRecord> {
        self.records
            .first()
            .filter(|r| matches!(r.body(), Body::EnvVector(_)))
    }
}

/// Reads a whole image from `reader`, stopping at the first error.
pub fn load(reader: impl Read) -> LoadedImage {
    let mut image = LoadedImage {
        header: None,
        records: Vec::new(),
        terminator: None,
        error: None,
    };
    let mut dec = match Decoder::new(ReadSource(reader)) {
        Ok(dec) => dec,
        Err(e) => {
            image.error = Some(describe(e));
            return image;
        }
    };
    image.header = Some(*dec.header());
    let mut buf = vec![0u8; RECORD_MAX_LEN as usize];
    loop {
        match dec.next_record(&mut buf) {
            Ok(Some(r)) => match r.body {
                Body::Terminator(t) => image.terminator = Some((r.offset, t)),
                _ => {
                    image.records.push(OwnedRecord {
                        offset: r.offset,
                        header: r.header,
                        payload: r.payload.to_vec(),
                    });
                }
            },
            Ok(None) => break,
            Err(e) => {
                image.error = Some(describe(e));
                return image;
            }
        }
    }
    if let Err(e) = dec.expect_end() {
        image.error = Some(describe(e));
    }
    image
}

fn describe(e: DecodeError<io::Error>) -> String {
    e.to_string()
}
