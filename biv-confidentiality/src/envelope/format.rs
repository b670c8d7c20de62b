//! The byte layout of ciphertext format v1: header, text form, parsing.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The format version this crate writes and reads.
pub const VERSION_1: u8 = 0x01;
/// Suite `0x01`: AES-256-GCM with a 12-byte random nonce and a 16-byte tag.
pub const SUITE_AES_256_GCM: u8 = 0x01;
/// Flag bit 0: the ciphertext is bound to a context (must be set in v1).
pub const FLAG_CONTEXT_BOUND: u8 = 0x01;
/// Nonce length of suite `0x01`.
pub const NONCE_LEN: usize = 12;
/// Tag length of suite `0x01`.
pub const TAG_LEN: usize = 16;
/// Header length of suite `0x01`: version, suite, flags, key id, nonce.
pub const HEADER_LEN: usize = 3 + 8 + NONCE_LEN;
/// Bytes a ciphertext adds to its plaintext (header and tag): 39.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// The prefix of the text form.
pub const TEXT_PREFIX: &str = "bv1:";
/// The largest plaintext accepted: 64 MiB (fields, not documents).
pub const MAX_PLAINTEXT: usize = 64 << 20;

/// What a ciphertext's header says, read without any key: for rotation jobs
/// (`needs_reencrypt`-style checks) and operators.
///
/// ```
/// use biv_confidentiality::envelope::{inspect, CiphertextInfo};
/// let mut ct = vec![0x01, 0x01, 0x01, 0, 0, 0, 0, 0, 0, 0, 42];
/// ct.extend_from_slice(&[7; 12 + 16]);
/// let info = inspect(&ct)?;
/// assert_eq!((info.version, info.suite, info.key_id), (1, 1, 42));
/// # Ok::<(), biv_confidentiality::envelope::InspectError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CiphertextInfo {
    /// Format version (1).
    pub version: u8,
    /// Cipher suite (`0x01` AES-256-GCM).
    pub suite: u8,
    /// The data key's id.
    pub key_id: u64,
    /// Length of the encrypted plaintext in bytes (not secret: AES-GCM does not hide it).
    pub plaintext_len: usize,
}

impl CiphertextInfo {
    /// Whether a ciphertext under this header should be re-encrypted to reach `key_id` under
    /// the current version and suite (a header-only check, no trial decryption).
    pub fn needs_reencrypt(&self, current_key_id: u64) -> bool {
        self.version != VERSION_1
            || self.suite != SUITE_AES_256_GCM
            || self.key_id != current_key_id
    }
}

/// Why a ciphertext's header could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    /// Not a v1 ciphertext this crate understands (unknown version, suite or flags, too
    /// short, or text that is not `bv1:` base64url).
    #[error("not a biv v1 ciphertext")]
    Malformed,
}

/// A parsed v1 ciphertext: header fields and the slices of the input they came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parsed<'a> {
    pub(crate) key_id: u64,
    pub(crate) header: &'a [u8],
    pub(crate) nonce: &'a [u8; NONCE_LEN],
    /// Ciphertext and tag.
    pub(crate) body: &'a [u8],
}

/// Splits a binary v1 ciphertext; `None` for anything not exactly a v1 suite-1 ciphertext.
pub(crate) fn parse(bytes: &[u8]) -> Option<Parsed<'_>> {
    let header = bytes.get(..HEADER_LEN)?;
    if header[0] != VERSION_1 || header[1] != SUITE_AES_256_GCM || header[2] != FLAG_CONTEXT_BOUND {
        return None;
    }
    let key_id = u64::from_be_bytes(header[3..11].try_into().ok()?);
    let nonce: &[u8; NONCE_LEN] = header[11..HEADER_LEN].try_into().ok()?;
    let body = &bytes[HEADER_LEN..];
    if body.len() < TAG_LEN || body.len() - TAG_LEN > MAX_PLAINTEXT {
        return None;
    }
    Some(Parsed {
        key_id,
        header,
        nonce,
        body,
    })
}

/// Writes the header for `key_id` and `nonce` into `out` (appending).
pub(crate) fn write_header(out: &mut Vec<u8>, key_id: u64, nonce: &[u8; NONCE_LEN]) {
    out.extend_from_slice(&[VERSION_1, SUITE_AES_256_GCM, FLAG_CONTEXT_BOUND]);
    out.extend_from_slice(&key_id.to_be_bytes());
    out.extend_from_slice(nonce);
}

/// The associated data: `header ‖ u32be(len(ctx)) ‖ ctx`.
pub(crate) fn aad_into(out: &mut Vec<u8>, header: &[u8], context: &biv_core::Context) {
    out.extend_from_slice(header);
    context_into(out, context);
}

/// The associated data after the header: `u32be(len(ctx)) ‖ ctx`.
pub(crate) fn context_into(out: &mut Vec<u8>, context: &biv_core::Context) {
    let len_at = out.len();
    out.extend_from_slice(&[0; 4]);
    context.encode_into(out);
    // A context is at most 32 fields of ≤ 64 + 65,536 bytes, far below u32::MAX.
    let len = u32::try_from(out.len() - len_at - 4).unwrap_or(u32::MAX);
    out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
}

/// The prefix of the canonical context encoding (`biv_core::Context::encode_into`).
const CONTEXT_PREFIX: &[u8] = b"biv.ctx.v1";

/// Length of the canonical encoding of `context`: what `Context::encode_into` writes.
pub(crate) fn context_len(context: &biv_core::Context) -> usize {
    CONTEXT_PREFIX.len()
        + context
            .iter()
            .map(|(name, value)| 2 + name.len() + 4 + value.len())
            .sum::<usize>()
}

/// Writes the associated data `header ‖ u32be(len(ctx)) ‖ ctx` into the front of `out` (a
/// stack buffer, so the hot path allocates nothing for it) and returns its length, or `None`
/// when it does not fit (what was written is then garbage to ignore). The bytes are exactly
/// those of [`aad_into`]; a unit test holds the two together.
pub(crate) fn aad_into_slice(
    out: &mut [u8],
    header: &[u8],
    context: &biv_core::Context,
) -> Option<usize> {
    let mut w = SliceWriter { buf: out, at: 0 };
    w.put(header)?;
    let len_at = w.at;
    w.put(&[0; 4])?;
    w.put(CONTEXT_PREFIX)?;
    for (name, value) in context.iter() {
        w.put(&u16::try_from(name.len()).ok()?.to_be_bytes())?;
        w.put(name.as_bytes())?;
        w.put(&u32::try_from(value.len()).ok()?.to_be_bytes())?;
        w.put(value)?;
    }
    let ctx_len = u32::try_from(w.at - len_at - 4).ok()?;
    w.buf
        .get_mut(len_at..len_at + 4)?
        .copy_from_slice(&ctx_len.to_be_bytes());
    Some(w.at)
}

/// Appends to a fixed slice; `None` instead of a panic when it is full.
struct SliceWriter<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl SliceWriter<'_> {
    fn put(&mut self, bytes: &[u8]) -> Option<()> {
        let end = self.at.checked_add(bytes.len())?;
        self.buf.get_mut(self.at..end)?.copy_from_slice(bytes);
        self.at = end;
        Some(())
    }
}

/// Reads a ciphertext's header without a key.
///
/// Accepts the binary form; use [`from_text`] first for the `bv1:` text form.
///
/// # Errors
/// [`InspectError::Malformed`] for anything that is not a v1 ciphertext.
pub fn inspect(ciphertext: &[u8]) -> Result<CiphertextInfo, InspectError> {
    let p = parse(ciphertext).ok_or(InspectError::Malformed)?;
    Ok(CiphertextInfo {
        version: VERSION_1,
        suite: SUITE_AES_256_GCM,
        key_id: p.key_id,
        plaintext_len: p.body.len() - TAG_LEN,
    })
}

/// The text form of a binary ciphertext: `bv1:` followed by base64url without padding, for
/// `VARCHAR` columns and for log scanners to recognise.
///
/// ```
/// use biv_confidentiality::envelope::{from_text, to_text};
/// let t = to_text(&[0x01, 0xff]);
/// assert_eq!(t, "bv1:Af8");
/// assert_eq!(from_text(&t)?, vec![0x01, 0xff]);
/// # Ok::<(), biv_confidentiality::envelope::InspectError>(())
/// ```
pub fn to_text(ciphertext: &[u8]) -> String {
    let mut s = String::with_capacity(TEXT_PREFIX.len() + ciphertext.len().div_ceil(3) * 4);
    s.push_str(TEXT_PREFIX);
    URL_SAFE_NO_PAD.encode_string(ciphertext, &mut s);
    s
}

/// Decodes the text form back to the binary form. Padding, other alphabets and whitespace are
/// rejected, so every ciphertext has exactly one text form.
///
/// # Errors
/// [`InspectError::Malformed`] without the `bv1:` prefix or for invalid base64url.
pub fn from_text(text: &str) -> Result<Vec<u8>, InspectError> {
    let b64 = text
        .strip_prefix(TEXT_PREFIX)
        .ok_or(InspectError::Malformed)?;
    URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| InspectError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_rules() {
        let mut ct = Vec::new();
        write_header(&mut ct, 7, &[1; NONCE_LEN]);
        ct.extend_from_slice(&[0; TAG_LEN]);
        assert_eq!(inspect(&ct).map(|i| i.key_id), Ok(7));
        assert_eq!(inspect(&ct).map(|i| i.plaintext_len), Ok(0));
        for (at, value) in [
            (0, 0x00),
            (0, 0x02),
            (1, 0x00),
            (1, 0x02),
            (2, 0x00),
            (2, 0x03),
            (2, 0x81),
        ] {
            let mut bad = ct.clone();
            bad[at] = value;
            assert_eq!(
                inspect(&bad),
                Err(InspectError::Malformed),
                "byte {at} = {value:#x}"
            );
        }
        assert_eq!(inspect(&ct[..ct.len() - 1]), Err(InspectError::Malformed));
    }

    #[test]
    fn stack_aad_matches_the_canonical_encoding() {
        use biv_core::Context;
        let header = [9u8; HEADER_LEN];
        let contexts = [
            Context::new(),
            Context::new().with("tenant", "t1").expect("ctx"),
            Context::new()
                .with("tenant", "zorg-noord")
                .and_then(|c| c.with("table", "patients"))
                .and_then(|c| c.with("column", "diagnosis"))
                .and_then(|c| c.with("subject", "hmac-sha256:t1-2026:9f86d081884c7d65"))
                .and_then(|c| c.with("row", vec![0u8; 300]))
                .expect("ctx"),
        ];
        for ctx in &contexts {
            let mut heap = Vec::new();
            aad_into(&mut heap, &header, ctx);
            assert_eq!(context_len(ctx), ctx.to_canonical_bytes().len());
            let mut stack = [0u8; 1024];
            let n = aad_into_slice(&mut stack, &header, ctx).expect("fits");
            assert_eq!(&stack[..n], heap.as_slice());
            // Too small by one byte: refused, never truncated.
            assert_eq!(aad_into_slice(&mut stack[..n - 1], &header, ctx), None);
        }
    }

    #[test]
    fn text_form_is_strict() {
        assert!(from_text("bv1:AQ==").is_err());
        assert!(from_text("bv1:A+8").is_err());
        assert!(from_text("bv2:AQ").is_err());
        assert!(from_text("bv1: AQ").is_err());
        assert_eq!(from_text("bv1:"), Ok(vec![]));
    }
}
