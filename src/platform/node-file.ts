import { closeSync, openSync, readSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { checkRange, type ByteSource } from '../io/byte-source.ts';

/** Node-only ByteSource over a file on disk (positional reads, no whole-file buffer). */
export class NodeFileByteSource implements ByteSource {
  private constructor(
    private readonly path: string,
    readonly size: number,
    readonly name: string,
  ) {}

  static async open(path: string): Promise<NodeFileByteSource> {
    const s = await stat(path);
    return new NodeFileByteSource(path, s.size, basename(path));
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    // Small reads (the pickle VM's windows, storage headers) synchronously: a thread-pool round trip
    // per read costs more than the read itself. Large ones asynchronously, so they overlap with work.
    if (length <= SYNC_READ_BYTES) return this.readNow(offset, length);
    const fh = await open(this.path, 'r');
    try {
      const buf = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return buf;
    } finally {
      await fh.close();
    }
  }

  private readNow(offset: number, length: number): Uint8Array {
    const fd = openSync(this.path, 'r');
    try {
      const buf = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, buf, done, length - done, offset + done);
        if (n === 0) break;
        done += n;
      }
      return buf;
    } finally {
      closeSync(fd);
    }
  }
}

/** Reads up to this size are synchronous (see read()). */
const SYNC_READ_BYTES = 1024 * 1024;
