//! Ciphertext format v1: AES-256-GCM under a per-subject data key, bound to a [`Context`].
//!
//! ```text
//! version 0x01 ‖ suite 0x01 ‖ flags 0x01 ‖ key id (u64be) ‖ nonce (12) ‖ ciphertext ‖ tag (16)
//! AAD = header (23 bytes) ‖ u32be len(ctx) ‖ ctx        ctx = Context::to_canonical_bytes()
//! text form = "bv1:" ‖ base64url without padding
//! ```
//!
//! The full specification, with known-answer vectors, is `docs/formats/ciphertext.md`.
//! [`DataKey`] encrypts and decrypts with one data key; [`inspect`] reads the header without a
//! key (for rotation jobs); [`to_text`] and [`from_text`] convert to and from the text form.
//!
//! [`Context`]: biv_core::Context

mod cipher;
mod format;
#[cfg(test)]
mod vectors;
#[cfg(test)]
mod wycheproof;

pub use cipher::{DATA_KEY_LEN, DataKey, DataKeyError};
pub use format::{
    CiphertextInfo, FLAG_CONTEXT_BOUND, HEADER_LEN, InspectError, MAX_PLAINTEXT, NONCE_LEN,
    OVERHEAD, SUITE_AES_256_GCM, TAG_LEN, TEXT_PREFIX, VERSION_1, from_text, inspect, to_text,
};
