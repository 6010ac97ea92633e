//! A small cache whose entries expire: review answers are reused for seconds, so a client that
//! polls (or a reconnecting peer) does not cost two API calls a request. Bounded: when full,
//! expired entries go first, then the one closest to expiring. The clock is passed in.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Entries kept at most, per cache.
pub const CAPACITY: usize = 1024;

/// Values of type `V` by key `K`, each until its own deadline.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    entries: HashMap<K, (V, Instant)>,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    /// An empty cache holding at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        Self { entries: HashMap::new(), capacity: capacity.max(1) }
    }

    /// The value for `key`, unless it expired by `now`.
    pub fn get(&self, key: &K, now: Instant) -> Option<V> {
        self.entries.get(key).filter(|(_, until)| now < *until).map(|(v, _)| v.clone())
    }

    /// Keeps `value` for `key` until `now + ttl`, making room if needed.
    pub fn insert(&mut self, key: K, value: V, ttl: Duration, now: Instant) {
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.entries.retain(|_, (_, until)| now < *until);
            if self.entries.len() >= self.capacity
                && let Some(first) = self.entries.iter().min_by_key(|(_, (_, until))| *until).map(|(k, _)| k.clone())
            {
                self.entries.remove(&first);
            }
        }
        self.entries.insert(key, (value, now + ttl));
    }

    /// How many entries are held, expired ones included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn entries_live_until_their_deadline() {
        let t0 = Instant::now();
        let mut c = TtlCache::new(4);
        c.insert("a", 1, 10 * S, t0);
        c.insert("b", 2, 2 * S, t0);
        assert_eq!((c.get(&"a", t0 + 9 * S), c.get(&"b", t0 + S)), (Some(1), Some(2)));
        assert_eq!((c.get(&"a", t0 + 10 * S), c.get(&"b", t0 + 2 * S)), (None, None));
        assert_eq!(c.get(&"c", t0), None);
        // a new answer replaces the old one and its deadline
        c.insert("b", 3, 10 * S, t0 + 5 * S);
        assert_eq!(c.get(&"b", t0 + 14 * S), Some(3));
    }

    #[test]
    fn a_full_cache_drops_the_expired_then_the_soonest_to_expire() {
        let t0 = Instant::now();
        let mut c = TtlCache::new(3);
        c.insert(1, (), 10 * S, t0);
        c.insert(2, (), S, t0);
        c.insert(3, (), 5 * S, t0);
        c.insert(4, (), 10 * S, t0 + 2 * S);
        assert_eq!(c.len(), 3, "2 had expired");
        assert!(c.get(&2, t0).is_none());
        c.insert(5, (), 10 * S, t0 + 2 * S);
        assert_eq!(c.len(), 3);
        assert!(c.get(&3, t0 + 2 * S).is_none(), "3 was closest to expiring");
        assert!([1, 4, 5].iter().all(|k| c.get(k, t0 + 2 * S).is_some()));
        // replacing a key never evicts another
        c.insert(5, (), 10 * S, t0 + 3 * S);
        assert_eq!(c.len(), 3);
        for i in 0..1000 {
            c.insert(100 + i, (), S, t0);
        }
        assert_eq!(c.len(), 3, "bounded");
    }
}
