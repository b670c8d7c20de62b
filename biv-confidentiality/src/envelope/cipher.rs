//! The AES-256-GCM primitive layer and one data key's encrypt/decrypt in format v1.

use std::fmt;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use biv_core::{BackendError, Context, DecryptError, EncryptError, SecretBytes};
use zeroize::Zeroizing;

use super::format::{self, HEADER_LEN, MAX_PLAINTEXT, NONCE_LEN, OVERHEAD, TAG_LEN};

/// Length of a data key: 32 bytes (AES-256).
pub const DATA_KEY_LEN: usize = 32;

/// Why a [`DataKey`] could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DataKeyError {
    /// The key is not 32 bytes long.
    #[error("a data key is {DATA_KEY_LEN} bytes, not {0}")]
    InvalidLength(usize),
}

/// One data key (DEK) with its id, ready to encrypt and decrypt fields in format v1.
///
/// The AES key schedule is wiped when the value is dropped (`aes-gcm`'s `zeroize` feature);
/// `Debug` shows the key id only. The nonce comes from the operating system
/// (`getrandom`) for every encryption, so forked PHP-FPM workers never share a nonce stream.
///
/// ```
/// use biv_confidentiality::envelope::DataKey;
/// use biv_core::{Context, SecretBytes};
///
/// let key = DataKey::new(42, &SecretBytes::new(vec![7; 32]))?;
/// let ctx = Context::new().with("tenant", "t1")?.with("subject", "p-1")?;
/// let ct = key.encrypt(b"123456782", &ctx)?;
/// assert_eq!(ct.len(), 9 + 39);
/// assert_eq!(key.decrypt(&ct, &ctx)?.expose_secret(), b"123456782");
/// let other = Context::new().with("tenant", "t2")?.with("subject", "p-1")?;
/// assert!(key.decrypt(&ct, &other).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DataKey {
    id: u64,
    cipher: Aes256Gcm,
}

impl DataKey {
    /// A data key from 32 key bytes.
    ///
    /// # Errors
    /// [`DataKeyError::InvalidLength`] unless `key` is 32 bytes.
    pub fn new(id: u64, key: &SecretBytes) -> Result<Self, DataKeyError> {
        let cipher = Aes256Gcm::new_from_slice(key.expose_secret())
            .map_err(|_| DataKeyError::InvalidLength(key.len()))?;
        Ok(DataKey { id, cipher })
    }

    /// The key id written into every ciphertext.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Encrypts `plaintext` bound to `context` with a fresh random nonce.
    ///
    /// # Errors
    /// [`EncryptError::TooLarge`] over 64 MiB; [`EncryptError::KeyUnavailable`] when the
    /// operating system gives no randomness.
    pub fn encrypt(&self, plaintext: &[u8], context: &Context) -> Result<Vec<u8>, EncryptError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| {
            EncryptError::KeyUnavailable(BackendError::msg(format!(
                "no randomness for a nonce: {e}"
            )))
        })?;
        self.encrypt_with_nonce(plaintext, context, &nonce)
    }

    /// Encryption with a given nonce: for the known-answer vectors only. Never reuse a nonce.
    pub(crate) fn encrypt_with_nonce(
        &self,
        plaintext: &[u8],
        context: &Context,
        nonce: &[u8; NONCE_LEN],
    ) -> Result<Vec<u8>, EncryptError> {
        if plaintext.len() > MAX_PLAINTEXT {
            return Err(EncryptError::TooLarge {
                size: plaintext.len(),
                limit: MAX_PLAINTEXT,
            });
        }
        // One allocation, of exactly the output's size: `header ‖ plaintext`, encrypted in
        // place with the associated data built on the stack, then the tag appended.
        let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
        format::write_header(&mut out, self.id, nonce);
        out.extend_from_slice(plaintext);
        let (header, body) = out.split_at_mut(HEADER_LEN);
        let tag = with_aad(header, context, |aad| {
            self.cipher
                .encrypt_inout_detached(&Nonce::from(*nonce), aad, body.into())
        })
        .map_err(|_| EncryptError::TooLarge {
            size: plaintext.len(),
            limit: MAX_PLAINTEXT,
        })?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Decrypts a binary v1 ciphertext made under this key with the same context.
    ///
    /// # Errors
    /// [`DecryptError::Failed`] for anything wrong: another key id, a wrong context, a changed
    /// or missing byte, trailing bytes, an unknown version, suite or flag.
    pub fn decrypt(
        &self,
        ciphertext: &[u8],
        context: &Context,
    ) -> Result<SecretBytes, DecryptError> {
        let p = format::parse(ciphertext).ok_or(DecryptError::Failed)?;
        if p.key_id != self.id {
            return Err(DecryptError::Failed);
        }
        let (ct, tag) = p.body.split_at(p.body.len() - TAG_LEN);
        let tag = Tag::try_from(tag).map_err(|_| DecryptError::Failed)?;
        // One allocation, of exactly the plaintext's size; the associated data is built on
        // the stack.
        let mut buf = Zeroizing::new(Vec::with_capacity(ct.len()));
        buf.extend_from_slice(ct);
        with_aad(p.header, context, |aad| {
            self.cipher.decrypt_inout_detached(
                &Nonce::from(*p.nonce),
                aad,
                buf.as_mut_slice().into(),
                &tag,
            )
        })
        .map_err(|_| DecryptError::Failed)?;
        Ok(SecretBytes::new(std::mem::take(&mut *buf)))
    }
}

/// Associated data up to this size is built in a stack buffer. The usual fields of a row
/// (tenant, table, column, subject, row id) take 150–250 bytes; a larger context costs one
/// more allocation per call, for its associated data.
const STACK_AAD: usize = 512;

/// Calls `f` with the associated data `header ‖ u32be(len(ctx)) ‖ ctx`.
fn with_aad<R>(header: &[u8], context: &Context, f: impl FnOnce(&[u8]) -> R) -> R {
    let mut stack = [0u8; STACK_AAD];
    match format::aad_into_slice(&mut stack, header, context) {
        Some(n) => f(stack.get(..n).unwrap_or_default()),
        None => {
            let mut heap = Vec::with_capacity(header.len() + 4 + format::context_len(context));
            format::aad_into(&mut heap, header, context);
            f(&heap)
        }
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
impl DataKey {
    /// The bare AEAD with a caller's nonce and associated data: the primitive layer that
    /// format v1 is built on, exposed to the Wycheproof tests only.
    pub(crate) fn seal_raw(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Vec<u8> {
        let mut buf = plaintext.to_vec();
        let tag = self
            .cipher
            .encrypt_inout_detached(&Nonce::from(*nonce), aad, buf.as_mut_slice().into())
            .expect("within GCM limits");
        buf.extend_from_slice(&tag);
        buf
    }

    /// Opens what [`DataKey::seal_raw`] made; `None` when authentication fails.
    pub(crate) fn open_raw(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        sealed: &[u8],
    ) -> Option<Vec<u8>> {
        let (ct, tag) = sealed.split_at(sealed.len().checked_sub(TAG_LEN)?);
        let tag = Tag::try_from(tag).ok()?;
        let mut buf = ct.to_vec();
        self.cipher
            .decrypt_inout_detached(&Nonce::from(*nonce), aad, buf.as_mut_slice().into(), &tag)
            .ok()?;
        Some(buf)
    }
}
