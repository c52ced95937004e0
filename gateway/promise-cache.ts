// One promise per key, shared by every caller asking for that key while it is pending or after it
// resolved. A rejected promise is forgotten, so the next call tries again instead of replaying the
// failure.

export interface PromiseCache<K, V> {
  get(key: K): Promise<V>;
  delete(key: K): void;
  clear(): void;
}

export function createPromiseCache<K, V>(
  load: (key: K) => Promise<V>,
  maxEntries = Number.POSITIVE_INFINITY,
): PromiseCache<K, V> {
  let map = new Map<K, Promise<V>>();
  return {
    get(key) {
      let hit = map.get(key);
      if (!hit) {
        // Past the bound, start afresh rather than track recency: entries reload cheaply.
        if (map.size >= maxEntries) map = new Map();
        const loading = load(key);
        hit = loading;
        const owner = map;
        owner.set(key, loading);
        loading.catch(() => {
          if (owner.get(key) === loading) owner.delete(key);
        });
      }
      return hit;
    },
    delete(key) {
      map.delete(key);
    },
    clear() {
      map = new Map();
    },
  };
}
