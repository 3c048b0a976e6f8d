//! Transaction tables split into shards, each behind its own lock, so that thousands of
//! calls per second from many transport tasks do not queue on one mutex.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Mutex;

/// A map from transaction key to transaction, in `N` independently locked shards.
#[derive(Debug)]
pub struct TransactionTable<K, V> {
    shards: Box<[Mutex<HashMap<K, V>>]>,
    hasher: RandomState,
}

impl<K: Hash + Eq, V> TransactionTable<K, V> {
    /// A table with `shards` shards (rounded up to a power of two, at least 1).
    pub fn new(shards: usize) -> Self {
        let n = shards.max(1).next_power_of_two();
        TransactionTable {
            shards: (0..n).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, key: &K) -> &Mutex<HashMap<K, V>> {
        let h = self.hasher.hash_one(key) as usize;
        &self.shards[h & (self.shards.len() - 1)]
    }

    fn lock<'a>(m: &'a Mutex<HashMap<K, V>>) -> std::sync::MutexGuard<'a, HashMap<K, V>> {
        // A panic while holding a shard lock must not take every later call down with it.
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Insert a transaction; returns the one it replaced, if any.
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        Self::lock(self.shard(&key)).insert(key, value)
    }

    /// Run `f` on the transaction under `key`, if present.
    pub fn with<R>(&self, key: &K, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        Self::lock(self.shard(key)).get_mut(key).map(f)
    }

    /// Whether a transaction exists under `key`.
    pub fn contains(&self, key: &K) -> bool {
        Self::lock(self.shard(key)).contains_key(key)
    }

    /// Remove and return the transaction under `key`.
    pub fn remove(&self, key: &K) -> Option<V> {
        Self::lock(self.shard(key)).remove(key)
    }

    /// Remove every transaction for which `done` says so (terminated ones, after their
    /// events were drained).
    pub fn retain(&self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        for s in self.shards.iter() {
            Self::lock(s).retain(|k, v| keep(k, v));
        }
    }

    /// How many transactions are live.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| Self::lock(s).len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn concurrent_inserts_and_removals_from_many_threads() {
        let t = Arc::new(TransactionTable::<u64, u64>::new(16));
        let threads: Vec<_> = (0..4)
            .map(|w| {
                let t = t.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000u64 {
                        let k = w * 1_000_000 + i;
                        t.insert(k, i);
                        assert_eq!(t.with(&k, |v| *v), Some(i));
                        if i % 2 == 0 {
                            t.remove(&k);
                        }
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap();
        }
        assert_eq!(t.len(), 4 * 5_000);
        t.retain(|k, _| k % 3 != 0);
        assert!(t.len() < 4 * 5_000);
    }
}
