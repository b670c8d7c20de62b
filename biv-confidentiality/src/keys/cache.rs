//! A bounded cache of unwrapped data keys: TTL, maximum entries, maximum uses, purge on shred.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use biv_core::{Clock, Timestamp};

use crate::envelope::DataKey;

/// Limits of the data-key cache.
///
/// ```
/// use std::time::Duration;
/// use biv_confidentiality::keys::CacheConfig;
/// let c = CacheConfig::default().with_ttl(Duration::from_secs(30)).with_max_entries(1_000);
/// assert_eq!((c.ttl(), c.max_entries()), (Duration::from_secs(30), 1_000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    ttl: Duration,
    max_entries: usize,
    max_uses: u64,
}

impl Default for CacheConfig {
    /// Two minutes, 10,000 keys, a million uses per cached key.
    fn default() -> Self {
        CacheConfig {
            ttl: Duration::from_secs(120),
            max_entries: 10_000,
            max_uses: 1 << 20,
        }
    }
}

impl CacheConfig {
    /// How long an unwrapped key may stay in memory; also the longest time a shred in another
    /// process takes to become effective here.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Most keys held; the entry closest to expiry is evicted first. 0 disables the cache.
    pub fn with_max_entries(mut self, n: usize) -> Self {
        self.max_entries = n;
        self
    }

    /// Uses after which a cached key is dropped and unwrapped again.
    pub fn with_max_uses(mut self, n: u64) -> Self {
        self.max_uses = n.max(1);
        self
    }

    /// The TTL.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The maximum number of entries.
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// The maximum uses per entry.
    pub fn max_uses(&self) -> u64 {
        self.max_uses
    }
}

struct Entry {
    key: Arc<DataKey>,
    tenant: Vec<u8>,
    subject: Vec<u8>,
    /// [`KeyCache::owner_hash`] of tenant and subject.
    owner: u64,
    expires: Timestamp,
    uses: u64,
}

impl Entry {
    fn owned_by(&self, tenant: &[u8], subject: &[u8]) -> bool {
        self.tenant == tenant && self.subject == subject
    }
}

/// A fast keyed hash for the cache's small keys (u64 key ids and owner hashes), in place of
/// SipHash: FxHash's multiply step followed by a rotation (so the well-mixed high bits of the
/// product reach the low bits the table indexes with), started from a random per-cache seed.
/// Not a cryptographic hash; an attacker who could force collisions without knowing the seed
/// would only slow lookups of a cache that holds at most `max_entries` keys, and a collision
/// of owner hashes is a cache miss, never a wrong key (every hit compares tenant and subject).
#[derive(Clone, Copy)]
struct SeededHasher {
    hash: u64,
}

const FX_K: u64 = 0xf135_7aea_2e62_a9c5;

impl SeededHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash ^ word).wrapping_mul(FX_K).rotate_left(26);
    }
}

impl Hasher for SeededHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        // The remainder's length keeps "ab\0" and "ab" apart.
        self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[derive(Clone, Copy)]
struct Seeded(u64);

impl BuildHasher for Seeded {
    type Hasher = SeededHasher;
    fn build_hasher(&self) -> SeededHasher {
        SeededHasher { hash: self.0 }
    }
}

struct Inner {
    by_id: HashMap<u64, Entry, Seeded>,
    /// Owner hash of (tenant, subject) → the subject's current key id. A hit compares the
    /// entry's tenant and subject, so two subjects with the same hash only evict each other's
    /// pointer (a miss), never read each other's key.
    current: HashMap<u64, u64, Seeded>,
}

impl Inner {
    fn remove(&mut self, key_id: u64) {
        let Some(e) = self.by_id.remove(&key_id) else {
            return;
        };
        if self.current.get(&e.owner) == Some(&key_id) {
            self.current.remove(&e.owner);
        }
    }

    /// One use of a cached key, and whether it belongs to `tenant`/`subject`: `None` (and the
    /// entry dropped) past its TTL or uses.
    fn take_use(
        &mut self,
        key_id: u64,
        now: Timestamp,
        max_uses: u64,
        tenant: &[u8],
        subject: &[u8],
    ) -> Option<(Arc<DataKey>, bool)> {
        let e = self.by_id.get_mut(&key_id)?;
        if now >= e.expires || e.uses >= max_uses {
            self.remove(key_id);
            return None;
        }
        e.uses += 1;
        Some((Arc::clone(&e.key), e.owned_by(tenant, subject)))
    }
}

/// The cache itself; the [`EnvelopeEncryptor`](super::EnvelopeEncryptor) owns one.
///
/// A hit costs one clock read, one lock of an uncontended mutex, one keyed hash of
/// tenant and subject (encrypt) and two probes with trivially hashed u64 keys.
pub(crate) struct KeyCache {
    config: CacheConfig,
    clock: Arc<dyn Clock>,
    seed: Seeded,
    inner: Mutex<Inner>,
    /// Bumped by every purge: a load that started before a purge must not re-insert its key.
    epoch: AtomicU64,
}

/// A cache hit.
pub(crate) struct Hit {
    pub(crate) key: Arc<DataKey>,
    pub(crate) owner_matches: bool,
}

impl KeyCache {
    pub(crate) fn new(config: CacheConfig, clock: Arc<dyn Clock>) -> Self {
        // A random seed from the standard library's randomly keyed SipHash, per cache.
        let seed = Seeded(RandomState::new().hash_one(0x6269_762e_6b65_7973_u64));
        KeyCache {
            config,
            clock,
            seed,
            inner: Mutex::new(Inner {
                by_id: HashMap::with_hasher(seed),
                current: HashMap::with_hasher(seed),
            }),
            epoch: AtomicU64::new(0),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn owner_hash(&self, tenant: &[u8], subject: &[u8]) -> u64 {
        let mut h = self.seed.build_hasher();
        h.write_usize(tenant.len());
        h.write(tenant);
        h.write(subject);
        h.finish()
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The cached key with this id, and whether it belongs to `tenant`/`subject`.
    pub(crate) fn get(&self, key_id: u64, tenant: &[u8], subject: &[u8]) -> Option<Hit> {
        let now = self.clock.now();
        let mut inner = self.inner();
        let (key, owner_matches) =
            inner.take_use(key_id, now, self.config.max_uses, tenant, subject)?;
        Some(Hit { key, owner_matches })
    }

    /// The subject's current key, if cached.
    pub(crate) fn current(&self, tenant: &[u8], subject: &[u8]) -> Option<Arc<DataKey>> {
        let owner = self.owner_hash(tenant, subject);
        let now = self.clock.now();
        let mut inner = self.inner();
        let id = *inner.current.get(&owner)?;
        let (key, owned) = inner.take_use(id, now, self.config.max_uses, tenant, subject)?;
        // Another subject with the same owner hash (about 2^-64 per pair of subjects): a miss,
        // never its key. That use is charged to the other key, which only brings its reload
        // closer.
        owned.then_some(key)
    }

    /// Caches a key loaded while the epoch was `epoch`; dropped if a purge happened since.
    pub(crate) fn insert(
        &self,
        epoch: u64,
        key: Arc<DataKey>,
        tenant: &[u8],
        subject: &[u8],
        current: bool,
    ) {
        if self.config.max_entries == 0 {
            return;
        }
        let Some(expires) = self.clock.now().checked_add(self.config.ttl) else {
            return;
        };
        let mut inner = self.inner();
        if self.epoch() != epoch {
            return;
        }
        let id = key.id();
        inner.remove(id);
        while inner.by_id.len() >= self.config.max_entries {
            let Some(victim) = inner
                .by_id
                .iter()
                .min_by_key(|(_, e)| e.expires)
                .map(|(id, _)| *id)
            else {
                break;
            };
            inner.remove(victim);
        }
        let owner = self.owner_hash(tenant, subject);
        if current {
            inner.current.insert(owner, id);
        }
        inner.by_id.insert(
            id,
            Entry {
                key,
                tenant: tenant.to_vec(),
                subject: subject.to_vec(),
                owner,
                expires,
                uses: 0,
            },
        );
    }

    /// Drops every key of the subject (and the given ids), and stops in-flight loads from
    /// re-inserting.
    pub(crate) fn purge_subject(&self, tenant: &[u8], subject: &[u8], ids: &[u64]) {
        let mut inner = self.inner();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let mut victims: Vec<u64> = inner
            .by_id
            .iter()
            .filter(|(_, e)| e.owned_by(tenant, subject))
            .map(|(id, _)| *id)
            .collect();
        victims.extend_from_slice(ids);
        for id in victims {
            inner.remove(id);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.inner().by_id.len()
    }
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("config", &self.config)
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use biv_core::{SecretBytes, SystemClock};

    fn key(id: u64) -> Arc<DataKey> {
        Arc::new(DataKey::new(id, &SecretBytes::new(vec![id as u8; 32])).expect("key"))
    }

    #[test]
    fn an_owner_hash_collision_is_a_miss_not_another_subjects_key() {
        let cache = KeyCache::new(CacheConfig::default(), Arc::new(SystemClock::new()));
        cache.insert(cache.epoch(), key(1), b"t", b"p-1", true);
        assert_eq!(cache.current(b"t", b"p-1").map(|k| k.id()), Some(1));
        // Make p-2's owner hash point at p-1's key, as a collision would.
        let p2 = cache.owner_hash(b"t", b"p-2");
        cache.inner().current.insert(p2, 1);
        assert!(cache.current(b"t", b"p-2").is_none());
        // p-2's own key then takes the slot; p-1 still finds its key.
        cache.insert(cache.epoch(), key(2), b"t", b"p-2", true);
        assert_eq!(cache.current(b"t", b"p-2").map(|k| k.id()), Some(2));
        assert_eq!(
            cache.get(1, b"t", b"p-1").map(|h| h.owner_matches),
            Some(true)
        );
        assert_eq!(
            cache.get(2, b"t", b"p-1").map(|h| h.owner_matches),
            Some(false)
        );
    }

    #[test]
    fn the_hash_separates_tenant_from_subject_and_lengths() {
        let cache = KeyCache::new(CacheConfig::default(), Arc::new(SystemClock::new()));
        let h = |t: &[u8], s: &[u8]| cache.owner_hash(t, s);
        assert_ne!(h(b"ab", b"c"), h(b"a", b"bc"));
        assert_ne!(h(b"t", b"p\0"), h(b"t", b"p"));
        assert_ne!(h(b"t", b"12345678"), h(b"t", b"12345679"));
        assert_eq!(h(b"t", b"p"), h(b"t", b"p"));
        // Seeded per cache.
        let other = KeyCache::new(CacheConfig::default(), Arc::new(SystemClock::new()));
        assert_ne!(other.owner_hash(b"t", b"p"), h(b"t", b"p"));
    }
}
