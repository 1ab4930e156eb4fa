/**
 * Tiny key-value persistence for the studio (settings, reference, last checkpoint, cached-model list).
 * The browser implementation is IndexedDB (values are structured-cloned, so Blobs and Uint8Arrays are
 * stored as-is); tests use the in-memory one.
 */

export interface KeyValueStore {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
}

export class MemoryStore implements KeyValueStore {
  readonly data = new Map<string, unknown>();
  async get<T>(key: string): Promise<T | undefined> {
    return this.data.get(key) as T | undefined;
  }
  async set(key: string, value: unknown): Promise<void> {
    this.data.set(key, structuredClone(value));
  }
  async delete(key: string): Promise<void> {
    this.data.delete(key);
  }
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

export class IndexedDbStore implements KeyValueStore {
  private constructor(private readonly db: IDBDatabase, private readonly storeName: string) {}

  static async open(dbName = 'adapter3d-studio', storeName = 'kv'): Promise<IndexedDbStore> {
    const req = indexedDB.open(dbName, 1);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(storeName)) req.result.createObjectStore(storeName);
    };
    const db = await request(req);
    return new IndexedDbStore(db, storeName);
  }

  async get<T>(key: string): Promise<T | undefined> {
    const tx = this.db.transaction(this.storeName, 'readonly');
    return (await request(tx.objectStore(this.storeName).get(key))) as T | undefined;
  }

  async set(key: string, value: unknown): Promise<void> {
    const tx = this.db.transaction(this.storeName, 'readwrite');
    await request(tx.objectStore(this.storeName).put(value, key));
  }

  async delete(key: string): Promise<void> {
    const tx = this.db.transaction(this.storeName, 'readwrite');
    await request(tx.objectStore(this.storeName).delete(key));
  }
}

/** Opens IndexedDB, falling back to memory (private windows, blocked storage) so the studio still runs. */
export async function openBrowserStore(): Promise<{ store: KeyValueStore; persistent: boolean }> {
  try {
    if (typeof indexedDB === 'undefined') throw new Error('no IndexedDB');
    return { store: await IndexedDbStore.open(), persistent: true };
  } catch {
    return { store: new MemoryStore(), persistent: false };
  }
}
