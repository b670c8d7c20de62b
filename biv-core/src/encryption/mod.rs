//! Field encryption vocabulary: the [`Context`] a ciphertext is bound to, [`SecretBytes`], and
//! the [`Encryptor`] and [`KeyProvider`] traits.

mod context;
mod encryptor;
mod key_provider;
mod secret;

pub use context::{Context, ContextError};
pub use encryptor::{DecryptError, EncryptError, Encryptor};
pub use key_provider::{KeyProvider, UnwrapError, WrapError, WrappedKey};
pub use secret::SecretBytes;
