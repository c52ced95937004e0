// One promise per key, shared by every caller asking for that key while it is pending or after it
// resolved. A rejected promise is forgotten, so the next call tries again instead of replaying the
// failure.

export interface PromiseCache<K, V> {
  get(key: K): Promise<V>;
  /** The value for `key` if it is loaded and still cached, without waiting: undefined otherwise. */
  peek(key: K): V | undefined;
  delete(key: K): void;
  clear(): void;
}

/**
 * Like createPromiseCache, but when loading fails because the state store is unreachable it
 * answers the last value it loaded for the key, even one dropped by `clear()`/`delete()`: during a
 * Redis outage, apps that were serving keep serving as they were.
 */
export function createStaleOnErrorCache<K, V>(
  load: (key: K) => Promise<V>,
  isOutage: (err: unknown) => boolean,
  maxEntries = Number.POSITIVE_INFINITY,
): PromiseCache<K, V> {
  let lastGood = new Map<K, V>();
  const inner = createPromiseCache(async (key: K) => {
    const value = await load(key);
    if (lastGood.size >= maxEntries && !lastGood.has(key)) lastGood = new Map();
    lastGood.set(key, value);
    return value;
  }, maxEntries);
  return {
    // The failed load is not cached, so every call during the outage tries the store again.
    get: (key) =>
      inner.get(key).catch((err: unknown) => {
        if (isOutage(err) && lastGood.has(key)) return lastGood.get(key)!;
        throw err;
      }),
    peek: (key) => inner.peek(key),
    delete: (key) => inner.delete(key),
    clear: () => inner.clear(),
  };
}

export function createPromiseCache<K, V>(
  load: (key: K) => Promise<V>,
  maxEntries = Number.POSITIVE_INFINITY,
): PromiseCache<K, V> {
  let map = new Map<K, Promise<V>>();
  /** The values of the promises in `map` that have resolved. */
  let loaded = new Map<K, V>();
  return {
    get(key) {
      let hit = map.get(key);
      if (!hit) {
        // Past the bound, start afresh rather than track recency: entries reload cheaply.
        if (map.size >= maxEntries) {
          map = new Map();
          loaded = new Map();
        }
        const loading = load(key);
        hit = loading;
        const owner = map;
        const values = loaded;
        owner.set(key, loading);
        loading.then(
          (value) => {
            if (owner.get(key) === loading) values.set(key, value);
          },
          () => {
            if (owner.get(key) === loading) owner.delete(key);
          },
        );
      }
      return hit;
    },
    peek(key) {
      return loaded.get(key);
    },
    delete(key) {
      map.delete(key);
      loaded.delete(key);
    },
    clear() {
      map = new Map();
      loaded = new Map();
    },
  };
}
