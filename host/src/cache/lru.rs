//! The in-process tier: least recently used entries go first once the entries' bytes pass
//! `max_size`; an entry older than `item_ttl` is a miss (and is dropped when met).

use std::time::{Duration, Instant};

use lru::LruCache;

use super::CacheKey;

/// What one entry costs besides its floats: the key, the list links and the map slot (an
/// estimate of `lru`'s node plus hashbrown's slot, rounded up).
pub const ENTRY_OVERHEAD: u64 = 96;

#[derive(Debug)]
struct Entry {
    vector: Box<[f32]>,
    stored: Instant,
}

/// An LRU map bounded by bytes rather than entries.
#[derive(Debug)]
pub struct ByteLru {
    map: LruCache<CacheKey, Entry>,
    bytes: u64,
    max_bytes: u64,
    ttl: Duration,
}

/// The bytes `vector` takes in the cache.
pub fn cost(vector: &[f32]) -> u64 {
    ENTRY_OVERHEAD + 4 * vector.len() as u64
}

impl ByteLru {
    pub fn new(max_bytes: u64, ttl: Duration) -> Self {
        Self {
            map: LruCache::unbounded(),
            bytes: 0,
            max_bytes,
            ttl,
        }
    }

    /// Bytes held (vectors and the per-entry overhead).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The vector under `key` when present and fresh (and marks it recently used).
    pub fn get(&mut self, key: &CacheKey, now: Instant) -> Option<Vec<f32>> {
        let fresh = match self.map.get(key) {
            None => return None,
            Some(e) => now.saturating_duration_since(e.stored) < self.ttl,
        };
        if fresh {
            return self.map.get(key).map(|e| e.vector.to_vec());
        }
        if let Some(old) = self.map.pop(key) {
            self.bytes -= cost(&old.vector);
        }
        None
    }

    /// Stores `vector`, evicting the least recently used entries to stay within `max_bytes`.
    /// A vector larger than the whole cache is not stored.
    pub fn put(&mut self, key: CacheKey, vector: &[f32], now: Instant) {
        let size = cost(vector);
        if size > self.max_bytes {
            return;
        }
        if let Some(old) = self.map.pop(&key) {
            self.bytes -= cost(&old.vector);
        }
        while self.bytes + size > self.max_bytes {
            match self.map.pop_lru() {
                Some((_, old)) => self.bytes -= cost(&old.vector),
                None => break,
            }
        }
        self.bytes += size;
        self.map.put(
            key,
            Entry {
                vector: vector.into(),
                stored: now,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> CacheKey {
        CacheKey([n; 32])
    }

    #[test]
    fn bytes_bound_evicts_least_recently_used_first() {
        let v = vec![1.0f32; 256]; // 1,024 + overhead bytes
        let each = cost(&v);
        let mut lru = ByteLru::new(each * 3, Duration::from_secs(60));
        let now = Instant::now();
        for n in 0..3 {
            lru.put(key(n), &v, now);
        }
        assert_eq!(lru.bytes(), each * 3);
        // Touch 0, so 1 is the least recently used.
        assert!(lru.get(&key(0), now).is_some());
        lru.put(key(3), &v, now);
        assert_eq!(lru.len(), 3);
        assert!(lru.get(&key(1), now).is_none());
        for n in [0, 2, 3] {
            assert_eq!(lru.get(&key(n), now).as_deref(), Some(&v[..]), "{n}");
        }
        assert!(lru.bytes() <= each * 3);
        // Too big for the whole cache: not stored, nothing evicted.
        lru.put(key(9), &vec![0.0; 1024], now);
        assert!(lru.get(&key(9), now).is_none());
        assert_eq!(lru.len(), 3);
    }

    #[test]
    fn entries_expire_after_the_ttl_and_free_their_bytes() {
        let mut lru = ByteLru::new(1 << 20, Duration::from_secs(10));
        let t0 = Instant::now();
        lru.put(key(1), &[0.5, 0.25], t0);
        assert!(lru.get(&key(1), t0 + Duration::from_secs(9)).is_some());
        assert!(lru.get(&key(1), t0 + Duration::from_secs(10)).is_none());
        assert_eq!(lru.bytes(), 0);
        assert!(lru.is_empty());
        // Replacing an entry counts its bytes once.
        lru.put(key(2), &[1.0; 8], t0);
        lru.put(key(2), &[1.0; 4], t0);
        assert_eq!(lru.bytes(), cost(&[1.0; 4]));
    }
}
