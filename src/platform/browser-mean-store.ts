/**
 * μ_s persistence in the browser (the engine worker): an IndexedDB object store keyed by
 * `mu_s-<generator sha 12>-<encoder sha 12>-psi<ψ>`, values stored as structured clones (μ_s stays a
 * Float32Array). Where IndexedDB is missing or refuses to open (private windows, blocked storage),
 * reads find nothing and writes are dropped: μ_s then lives for the engine's lifetime only.
 */
import { meanEmbeddingStoreKey, type MeanEmbeddingRecord, type MeanEmbeddingStore, type MeanEmbeddingStoreKey } from '../core/mean-embedding-store.ts';

const DB_NAME = 'adapter3d-mean-embeddings';
const STORE_NAME = 'mu_s';

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new DOMException('IndexedDB request failed'));
  });
}

/** Resolves when a write transaction has committed (a put's success alone is not durable yet). */
function committed(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new DOMException('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new DOMException('IndexedDB transaction aborted'));
  });
}

export class BrowserMeanEmbeddingStore implements MeanEmbeddingStore {
  private db: Promise<IDBDatabase | null> | null = null;

  constructor(private readonly factory: IDBFactory | undefined = typeof indexedDB === 'undefined' ? undefined : indexedDB) {}

  /** Opened on first use; null when there is no usable IndexedDB. */
  private open(): Promise<IDBDatabase | null> {
    this.db ??= (async () => {
      if (!this.factory) return null;
      try {
        const req = this.factory.open(DB_NAME, 1);
        req.onupgradeneeded = () => {
          if (!req.result.objectStoreNames.contains(STORE_NAME)) req.result.createObjectStore(STORE_NAME);
        };
        const opened = request(req);
        // Another tab holding an older version open: give up rather than wait.
        req.onblocked = () => req.onerror?.(new Event('blocked'));
        return await opened;
      } catch {
        return null;
      }
    })();
    return this.db;
  }

  async get(key: MeanEmbeddingStoreKey): Promise<unknown> {
    const db = await this.open();
    if (!db) return undefined;
    return request(db.transaction(STORE_NAME, 'readonly').objectStore(STORE_NAME).get(meanEmbeddingStoreKey(key)));
  }

  async put(record: MeanEmbeddingRecord): Promise<void> {
    const db = await this.open();
    if (!db) return;
    const tx = db.transaction(STORE_NAME, 'readwrite');
    const done = committed(tx);
    tx.objectStore(STORE_NAME).put(record, meanEmbeddingStoreKey(record));
    await done;
  }
}
