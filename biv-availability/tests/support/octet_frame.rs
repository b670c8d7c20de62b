//! Reading RFC 6587 octet-counted frames (`MSG-LEN SP SYSLOG-MSG`) in the syslog tests, plain
//! and TLS alike.

use std::io::Read;

/// Reads one octet-counted frame; `None` at end of stream.
pub(crate) fn read_frame(stream: &mut impl Read) -> Option<Vec<u8>> {
    let mut len = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        if byte[0] == b' ' {
            break;
        }
        assert!(byte[0].is_ascii_digit(), "frame length holds {:?}", byte[0]);
        len.push(byte[0]);
    }
    let len: usize = String::from_utf8(len)
        .expect("test helper")
        .parse()
        .expect("test helper");
    let mut message = vec![0u8; len];
    stream.read_exact(&mut message).ok()?;
    Some(message)
}
