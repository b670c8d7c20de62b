//! A bounded cache of unwrapped data keys: TTL, maximum entries, maximum uses, purge on shred.

use std::collections::HashMap;
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
    expires: Timestamp,
    uses: u64,
}

#[derive(Default)]
struct Inner {
    by_id: HashMap<u64, Entry>,
    /// tenant → subject → key id; nested so a lookup by slices allocates nothing.
    current: HashMap<Vec<u8>, HashMap<Vec<u8>, u64>>,
}

impl Inner {
    fn remove(&mut self, key_id: u64) {
        let Some(e) = self.by_id.remove(&key_id) else {
            return;
        };
        if let Some(subjects) = self.current.get_mut(&e.tenant) {
            if subjects.get(&e.subject) == Some(&key_id) {
                subjects.remove(&e.subject);
            }
            if subjects.is_empty() {
                self.current.remove(&e.tenant);
            }
        }
    }
}

/// The cache itself; the [`EnvelopeEncryptor`](super::EnvelopeEncryptor) owns one.
pub(crate) struct KeyCache {
    config: CacheConfig,
    clock: Arc<dyn Clock>,
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
        KeyCache {
            config,
            clock,
            inner: Mutex::new(Inner::default()),
            epoch: AtomicU64::new(0),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    fn take_use(&self, inner: &mut Inner, key_id: u64, now: Timestamp) -> Option<Arc<DataKey>> {
        let e = inner.by_id.get_mut(&key_id)?;
        if now >= e.expires || e.uses >= self.config.max_uses {
            inner.remove(key_id);
            return None;
        }
        e.uses += 1;
        Some(Arc::clone(&e.key))
    }

    /// The cached key with this id, and whether it belongs to `tenant`/`subject`.
    pub(crate) fn get(&self, key_id: u64, tenant: &[u8], subject: &[u8]) -> Option<Hit> {
        let now = self.clock.now();
        let mut inner = self.inner();
        let e = inner.by_id.get_mut(&key_id)?;
        if now >= e.expires || e.uses >= self.config.max_uses {
            inner.remove(key_id);
            return None;
        }
        e.uses += 1;
        Some(Hit {
            key: Arc::clone(&e.key),
            owner_matches: e.tenant == tenant && e.subject == subject,
        })
    }

    /// The subject's current key, if cached.
    pub(crate) fn current(&self, tenant: &[u8], subject: &[u8]) -> Option<Arc<DataKey>> {
        let now = self.clock.now();
        let mut inner = self.inner();
        let id = *inner.current.get(tenant)?.get(subject)?;
        self.take_use(&mut inner, id, now)
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
        if current {
            inner
                .current
                .entry(tenant.to_vec())
                .or_default()
                .insert(subject.to_vec(), id);
        }
        inner.by_id.insert(
            id,
            Entry {
                key,
                tenant: tenant.to_vec(),
                subject: subject.to_vec(),
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
            .filter(|(_, e)| e.tenant == tenant && e.subject == subject)
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
