/**
 * A safe Python pickle virtual machine (protocols 2–5, plus the simple protocol-0/1 opcodes that
 * nested legacy streams use). Nothing is ever evaluated: every GLOBAL / STACK_GLOBAL is looked up in
 * an allowlist supplied by the caller, and an unknown one throws `UnsupportedGlobalError`.
 *
 * The stream is read from a `ByteSource` in windows (default 8 MiB), so a 380 MB checkpoint is never
 * held whole. Large byte strings (BINBYTES & co., i.e. tensor storages) are not copied: they become a
 * `PickleBytes` record {offset, length} into the source, read later only if needed. The memo lives for
 * the whole stream, because back-references can reach across the entire file (spec B.7).
 *
 * Value mapping: None → null, bool → boolean, int → number (bigint beyond 2^53), float → number,
 * str → string, bytes → PickleBytes, list and tuple → Array, dict → Map, set/frozenset → Set,
 * globals → PickleGlobal; whatever an allowlisted handler returns for REDUCE / NEWOBJ.
 */
import type { ByteSource } from './byte-source.ts';
import { FormatError, IncompatibleFileError } from '../core/errors.ts';

export class PickleFormatError extends FormatError {
  constructor(message: string) {
    super(message);
  }
}

/** The stream names a Python global that the caller's allowlist does not contain. */
export class UnsupportedGlobalError extends IncompatibleFileError {
  constructor(
    readonly module: string,
    readonly globalName: string,
    where: string,
  ) {
    super(`${where}: the pickle refers to the Python global '${module}.${globalName}', which this reader does not support (not on the allowlist; nothing was executed)`);
  }
}

/** A byte string of the stream, by position; `inline` holds a copy of the bytes when they are small. */
export class PickleBytes {
  constructor(
    /** Absolute offset of the first byte in the source. */
    readonly offset: number,
    readonly length: number,
    readonly inline: Uint8Array | null,
  ) {}
}

/** What an allowlisted global can do. */
export interface GlobalHandler {
  /** REDUCE: `callable(*args)`. */
  call?(args: unknown[]): unknown;
  /** NEWOBJ / NEWOBJ_EX: `cls.__new__(cls, *args, **kwargs)`. */
  construct?(args: unknown[], kwargs: Map<unknown, unknown>): unknown;
}

/** A resolved global on the stack. */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly handler: GlobalHandler,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** Objects that accept BUILD (`__setstate__`) implement this symbol. */
export const SET_STATE: unique symbol = Symbol('pickle.setstate');
export interface StateReceiver {
  [SET_STATE](state: unknown): void;
}

function isStateReceiver(v: unknown): v is StateReceiver {
  return typeof v === 'object' && v !== null && typeof (v as Partial<StateReceiver>)[SET_STATE] === 'function';
}

/**
 * A generic Python instance (class global + NEWOBJ/REDUCE + BUILD). `state` is what BUILD supplied:
 * usually the instance `__dict__` as a Map.
 */
export class PyObject implements StateReceiver {
  state: unknown = undefined;
  constructor(
    readonly className: string,
    readonly args: unknown[] = [],
  ) {}
  [SET_STATE](state: unknown): void {
    // (dict, slotstate) tuples: keep the dict part; merge successive BUILDs of dicts.
    if (Array.isArray(state) && state.length === 2 && (state[0] instanceof Map || state[0] === null)) state = state[0];
    if (this.state instanceof Map && state instanceof Map) {
      for (const [k, v] of state) this.state.set(k, v);
    } else {
      this.state = state;
    }
  }
  /** Attribute lookup in a dict state. */
  get(name: string): unknown {
    return this.state instanceof Map ? this.state.get(name) : undefined;
  }
}

/**
 * `OrderedDict(...)` / `dict(...)` as REDUCE calls it: no argument, or one list of (key, value) pairs.
 * Anything else is a corrupt stream (a typed error, not a TypeError from `new Map`).
 */
export function dictFromPairs(args: unknown[], where: string): Map<unknown, unknown> {
  const items = args[0];
  if (items === undefined || (Array.isArray(items) && items.length === 0)) return new Map();
  if (!Array.isArray(items) || !items.every((p) => Array.isArray(p) && p.length === 2)) {
    throw new PickleFormatError(`${where}: OrderedDict built from something other than (key, value) pairs`);
  }
  return new Map(items as [unknown, unknown][]);
}

/** A handler that turns a class global into a plain `PyObject` (for NEWOBJ and REDUCE alike). */
export function plainClassHandler(qualifiedName: string): GlobalHandler {
  return {
    call: (args) => new PyObject(qualifiedName, args),
    construct: (args) => new PyObject(qualifiedName, args),
  };
}

export type GlobalResolver =
  | ReadonlyMap<string, GlobalHandler>
  | ((module: string, name: string) => GlobalHandler | undefined);

export interface PickleOptions {
  /** Allowlist: "module.name" → handler (or a function for prefix rules such as `__torch__.*`). */
  globals: GlobalResolver;
  /** Handles PERSID / BINPERSID; without it a persistent id is a format error. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Absolute offset where the pickle starts (default 0). */
  start?: number;
  /** Absolute offset the stream must not read past (default source.size). */
  end?: number;
  /** Read window in bytes (default 8 MiB). */
  windowBytes?: number;
  /** Byte strings up to this length are copied into `PickleBytes.inline` (default 64 KiB). */
  inlineBytesLimit?: number;
  onProgress?: (bytesRead: number, total: number) => void;
}

export interface PickleResult {
  value: unknown;
  /** Absolute offset just after the STOP opcode. */
  end: number;
}

/** Runs one pickle from `source` (starting at `opts.start`) and returns the unpickled value. */
export async function loadPickle(source: ByteSource, opts: PickleOptions): Promise<PickleResult> {
  return new PickleMachine(source, opts).run();
}

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
const AFTER_SKIP_WINDOW = 16 * 1024;
const MAX_LONG_BYTES = 1024;

class PickleMachine {
  private buf: Uint8Array = new Uint8Array(0);
  /** Absolute source offset of buf[0]. */
  private base: number;
  /** Read position inside buf (may run past buf.length after a skipped payload). */
  private i = 0;
  private readonly limit: number;
  private readonly window: number;
  /** Size of the next refill: small right after a skipped payload (what follows is metadata), then doubling. */
  private nextWindow: number;
  private readonly inlineLimit: number;
  private readonly stack: unknown[] = [];
  private readonly marks: number[] = [];
  private readonly memo: unknown[] = [];
  private readonly resolve: (module: string, name: string) => GlobalHandler | undefined;
  private view: DataView = new DataView(new ArrayBuffer(0));

  constructor(
    private readonly source: ByteSource,
    private readonly opts: PickleOptions,
  ) {
    this.base = opts.start ?? 0;
    this.limit = Math.min(opts.end ?? source.size, source.size);
    this.window = opts.windowBytes ?? 8 * 1024 * 1024;
    this.nextWindow = Math.min(this.window, AFTER_SKIP_WINDOW);
    this.inlineLimit = opts.inlineBytesLimit ?? 64 * 1024;
    const g = opts.globals;
    this.resolve = typeof g === 'function' ? g : (m, n) => g.get(`${m}.${n}`);
  }

  private get pos(): number {
    return this.base + this.i;
  }

  private where(at = this.pos): string {
    return `${this.source.name} @${at}`;
  }

  private truncated(): PickleFormatError {
    return new PickleFormatError(`${this.where()}: pickle stream is truncated (ends at byte ${this.limit} before STOP)`);
  }

  private corrupt(what: string, at = this.pos): PickleFormatError {
    return new PickleFormatError(`${this.where(at)}: corrupt pickle: ${what}`);
  }

  /** Makes bytes [pos, pos+n) available in buf. */
  private async refill(n: number): Promise<void> {
    const start = this.pos;
    if (start + n > this.limit) throw this.truncated();
    const len = Math.max(n, Math.min(this.nextWindow, this.limit - start));
    this.nextWindow = Math.min(this.window, this.nextWindow * 2);
    this.buf = await this.source.read(start, len);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.base = start;
    this.i = 0;
    this.opts.onProgress?.(start + len, this.limit);
  }

  /** Guarantees k more bytes in the window for a fixed-size argument read synchronously. */
  private fixed(k: number): void {
    if (this.i + k > this.buf.length) throw this.truncated();
  }

  private pop(): unknown {
    if (this.stack.length === 0) throw this.corrupt('stack underflow');
    return this.stack.pop();
  }

  private top(): unknown {
    if (this.stack.length === 0) throw this.corrupt('stack underflow');
    return this.stack[this.stack.length - 1];
  }

  private popMark(): unknown[] {
    const m = this.marks.pop();
    if (m === undefined) throw this.corrupt('MARK expected');
    const items = this.stack.slice(m);
    this.stack.length = m;
    return items;
  }

  private u8(): number {
    this.fixed(1);
    return this.buf[this.i++];
  }
  private u16(): number {
    this.fixed(2);
    const v = this.view.getUint16(this.i, true);
    this.i += 2;
    return v;
  }
  private u32(): number {
    this.fixed(4);
    const v = this.view.getUint32(this.i, true);
    this.i += 4;
    return v;
  }
  private u64(): number {
    this.fixed(8);
    const v = this.view.getBigUint64(this.i, true);
    this.i += 8;
    if (v > MAX_SAFE_BIG) throw this.corrupt(`length ${v} too large`);
    return Number(v);
  }

  private async bytes(n: number): Promise<Uint8Array> {
    if (this.i + n > this.buf.length) await this.refill(n);
    const out = this.buf.subarray(this.i, this.i + n);
    this.i += n;
    return out;
  }

  private async str(n: number): Promise<string> {
    const b = await this.bytes(n);
    if (n <= 64) {
      let ascii = true;
      for (let k = 0; k < n; k++) if (b[k] >= 0x80) { ascii = false; break; }
      if (ascii) return String.fromCharCode.apply(null, b as unknown as number[]);
    }
    return utf8.decode(b);
  }

  /** A newline-terminated text argument (protocol-0 opcodes, GLOBAL). */
  private async line(): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      const nl = this.buf.indexOf(0x0a, this.i);
      if (nl >= 0) {
        const s = latin1.decode(this.buf.subarray(this.i, nl));
        this.i = nl + 1;
        return s;
      }
      const have = this.buf.length - this.i;
      if (attempt > 0 && this.pos + have >= this.limit) throw this.truncated();
      if (have > 1 << 20) throw this.corrupt('text argument longer than 1 MiB');
      await this.refill(Math.min(this.limit - this.pos, have + 4096));
    }
  }

  private byteString(n: number): Promise<PickleBytes> | PickleBytes {
    const offset = this.pos;
    if (n <= this.inlineLimit) {
      return this.bytes(n).then((b) => new PickleBytes(offset, n, b.slice()));
    }
    // Large payload: remember where it is and skip it without reading.
    if (offset + n > this.limit) throw this.truncated();
    this.i += n;
    this.nextWindow = Math.min(this.window, AFTER_SKIP_WINDOW);
    return new PickleBytes(offset, n, null);
  }

  private long(b: Uint8Array): number | bigint {
    if (b.length === 0) return 0;
    // Torch and EG3D pickles hold small integers (the largest is the 10-byte legacy magic number).
    if (b.length > MAX_LONG_BYTES) throw this.corrupt(`integer of ${b.length} bytes (a checkpoint never holds one this large)`);
    let hex = '';
    for (let k = b.length - 1; k >= 0; k--) hex += b[k].toString(16).padStart(2, '0');
    let v = BigInt(`0x${hex}`);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= -MAX_SAFE_BIG && v <= MAX_SAFE_BIG ? Number(v) : v;
  }

  private global(module: string, name: string): PickleGlobal {
    const handler = this.resolve(module, name);
    if (!handler) throw new UnsupportedGlobalError(module, name, this.where());
    return new PickleGlobal(module, name, handler);
  }

  private memoGet(idx: number): unknown {
    if (idx >= this.memo.length || !(idx in this.memo)) throw this.corrupt(`memo key ${idx} was never stored`);
    return this.memo[idx];
  }

  private setItems(target: unknown, items: unknown[]): void {
    if (!(target instanceof Map)) throw this.corrupt('SETITEM(S) on a value that is not a dict');
    if (items.length % 2 !== 0) throw this.corrupt('SETITEMS with an odd number of items');
    for (let k = 0; k < items.length; k += 2) target.set(items[k], items[k + 1]);
  }

  private persistent(pid: unknown): unknown {
    if (!this.opts.persistentLoad) throw this.corrupt('persistent id found but no persistent_load was provided');
    return this.opts.persistentLoad(pid);
  }

  private reduce(fn: unknown, args: unknown): unknown {
    if (!(fn instanceof PickleGlobal)) throw this.corrupt('REDUCE on a value that is not an allowlisted global');
    if (!Array.isArray(args)) throw this.corrupt(`REDUCE of ${fn.qualifiedName} without an argument tuple`);
    if (!fn.handler.call) throw new UnsupportedGlobalError(fn.module, fn.name, `${this.where()} (REDUCE)`);
    return fn.handler.call(args);
  }

  private newObj(cls: unknown, args: unknown, kwargs: Map<unknown, unknown>): unknown {
    if (!(cls instanceof PickleGlobal)) throw this.corrupt('NEWOBJ on a value that is not an allowlisted class');
    if (!Array.isArray(args)) throw this.corrupt(`NEWOBJ of ${cls.qualifiedName} without an argument tuple`);
    if (!cls.handler.construct) throw new UnsupportedGlobalError(cls.module, cls.name, `${this.where()} (NEWOBJ)`);
    return cls.handler.construct(args, kwargs);
  }

  async run(): Promise<PickleResult> {
    const start = this.base;
    if (start >= this.limit) throw new PickleFormatError(`${this.where(start)}: not a Python pickle (empty)`);
    await this.refill(Math.min(16, this.limit - start));
    if (this.buf[0] !== 0x80) {
      const head = Array.from(this.buf.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
      throw new PickleFormatError(`${this.where(start)}: not a Python pickle of protocol ≥ 2 (starts with ${head}, expected 80 = PROTO)`);
    }
    const stack = this.stack;
    for (;;) {
      // Keep at least 16 bytes buffered so fixed-size arguments read synchronously.
      if (this.i + 16 > this.buf.length && this.pos < this.limit) await this.refill(Math.min(16, this.limit - this.pos));
      if (this.pos >= this.limit) throw this.truncated();
      const opAt = this.pos;
      const op = this.buf[this.i++];
      switch (op) {
        case 0x80: { // PROTO
          const v = this.u8();
          if (v < 2 || v > 5) throw new PickleFormatError(`${this.where(opAt)}: unsupported pickle protocol ${v}`);
          break;
        }
        case 0x95: // FRAME: only a buffering hint
          this.u64();
          break;
        case 0x2e: { // STOP
          const value = this.pop();
          this.opts.onProgress?.(this.pos, this.limit);
          return { value, end: this.pos };
        }
        case 0x28: // MARK
          this.marks.push(stack.length);
          break;
        case 0x30: // POP
          this.pop();
          break;
        case 0x31: // POP_MARK
          this.popMark();
          break;
        case 0x32: // DUP
          stack.push(this.top());
          break;
        case 0x94: // MEMOIZE
          this.memo[this.memo.length] = this.top();
          break;
        case 0x71: // BINPUT
          this.memo[this.u8()] = this.top();
          break;
        case 0x72: // LONG_BINPUT
          this.memo[this.u32()] = this.top();
          break;
        case 0x70: // PUT
          this.memo[parseDecimal(await this.line(), this.corrupt('bad PUT index', opAt))] = this.top();
          break;
        case 0x68: // BINGET
          stack.push(this.memoGet(this.u8()));
          break;
        case 0x6a: // LONG_BINGET
          stack.push(this.memoGet(this.u32()));
          break;
        case 0x67: // GET
          stack.push(this.memoGet(parseDecimal(await this.line(), this.corrupt('bad GET index', opAt))));
          break;
        case 0x4e: // NONE
          stack.push(null);
          break;
        case 0x88: // NEWTRUE
          stack.push(true);
          break;
        case 0x89: // NEWFALSE
          stack.push(false);
          break;
        case 0x4a: // BININT
          this.fixed(4);
          stack.push(this.view.getInt32(this.i, true));
          this.i += 4;
          break;
        case 0x4b: // BININT1
          stack.push(this.u8());
          break;
        case 0x4d: // BININT2
          stack.push(this.u16());
          break;
        case 0x8a: // LONG1
          stack.push(this.long(await this.bytes(this.u8())));
          break;
        case 0x8b: // LONG4
          stack.push(this.long(await this.bytes(this.u32())));
          break;
        case 0x49: { // INT (text); "00"/"01" are False/True
          const s = await this.line();
          if (s === '00') stack.push(false);
          else if (s === '01') stack.push(true);
          else stack.push(parseInteger(s, this.corrupt('bad INT', opAt)));
          break;
        }
        case 0x4c: // LONG (text)
          stack.push(parseInteger((await this.line()).replace(/L$/, ''), this.corrupt('bad LONG', opAt)));
          break;
        case 0x47: // BINFLOAT (big-endian)
          this.fixed(8);
          stack.push(this.view.getFloat64(this.i, false));
          this.i += 8;
          break;
        case 0x46: { // FLOAT (text)
          const v = Number(await this.line());
          if (Number.isNaN(v)) throw this.corrupt('bad FLOAT', opAt);
          stack.push(v);
          break;
        }
        case 0x8c: // SHORT_BINUNICODE
          stack.push(await this.str(this.u8()));
          break;
        case 0x58: // BINUNICODE
          stack.push(await this.str(this.u32()));
          break;
        case 0x8d: // BINUNICODE8
          stack.push(await this.str(this.u64()));
          break;
        case 0x55: // SHORT_BINSTRING (Python 2 str)
          stack.push(latin1.decode(await this.bytes(this.u8())));
          break;
        case 0x54: // BINSTRING
          stack.push(latin1.decode(await this.bytes(this.u32())));
          break;
        case 0x43: // SHORT_BINBYTES
          stack.push(await this.byteString(this.u8()));
          break;
        case 0x42: // BINBYTES
          stack.push(await this.byteString(this.u32()));
          break;
        case 0x8e: // BINBYTES8
        case 0x96: // BYTEARRAY8
          stack.push(await this.byteString(this.u64()));
          break;
        case 0x7d: // EMPTY_DICT
          stack.push(new Map());
          break;
        case 0x5d: // EMPTY_LIST
          stack.push([]);
          break;
        case 0x29: // EMPTY_TUPLE
          stack.push([]);
          break;
        case 0x8f: // EMPTY_SET
          stack.push(new Set());
          break;
        case 0x64: { // DICT
          const d = new Map();
          this.setItems(d, this.popMark());
          stack.push(d);
          break;
        }
        case 0x6c: // LIST
        case 0x74: // TUPLE
          stack.push(this.popMark());
          break;
        case 0x85: // TUPLE1
          stack.push([this.pop()]);
          break;
        case 0x86: { // TUPLE2
          const b = this.pop();
          const a = this.pop();
          stack.push([a, b]);
          break;
        }
        case 0x87: { // TUPLE3
          const c = this.pop();
          const b = this.pop();
          const a = this.pop();
          stack.push([a, b, c]);
          break;
        }
        case 0x91: // FROZENSET
          stack.push(new Set(this.popMark()));
          break;
        case 0x73: { // SETITEM
          const v = this.pop();
          const k = this.pop();
          this.setItems(this.top(), [k, v]);
          break;
        }
        case 0x75: { // SETITEMS
          const items = this.popMark();
          this.setItems(this.top(), items);
          break;
        }
        case 0x61: { // APPEND
          const v = this.pop();
          const list = this.top();
          if (!Array.isArray(list)) throw this.corrupt('APPEND on a value that is not a list', opAt);
          list.push(v);
          break;
        }
        case 0x65: { // APPENDS
          const items = this.popMark();
          const list = this.top();
          if (!Array.isArray(list)) throw this.corrupt('APPENDS on a value that is not a list', opAt);
          for (const v of items) list.push(v);
          break;
        }
        case 0x90: { // ADDITEMS
          const items = this.popMark();
          const set = this.top();
          if (!(set instanceof Set)) throw this.corrupt('ADDITEMS on a value that is not a set', opAt);
          for (const v of items) set.add(v);
          break;
        }
        case 0x63: { // GLOBAL "module\nname\n"
          const module = await this.line();
          const name = await this.line();
          stack.push(this.global(module, name));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') throw this.corrupt('STACK_GLOBAL needs two strings', opAt);
          stack.push(this.global(module, name));
          break;
        }
        case 0x52: { // REDUCE
          const args = this.pop();
          const fn = this.pop();
          stack.push(this.reduce(fn, args));
          break;
        }
        case 0x81: { // NEWOBJ
          const args = this.pop();
          const cls = this.pop();
          stack.push(this.newObj(cls, args, new Map()));
          break;
        }
        case 0x92: { // NEWOBJ_EX
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          if (!(kwargs instanceof Map)) throw this.corrupt('NEWOBJ_EX kwargs is not a dict', opAt);
          stack.push(this.newObj(cls, args, kwargs));
          break;
        }
        case 0x62: { // BUILD
          const state = this.pop();
          const obj = this.top();
          if (!isStateReceiver(obj)) throw this.corrupt('BUILD on a value that takes no state', opAt);
          obj[SET_STATE](state);
          break;
        }
        case 0x51: // BINPERSID
          stack.push(this.persistent(this.pop()));
          break;
        case 0x50: // PERSID
          stack.push(this.persistent(await this.line()));
          break;
        case 0x82: // EXT1
        case 0x83: // EXT2
        case 0x84: // EXT4
          throw new PickleFormatError(`${this.where(opAt)}: pickle uses the extension registry (EXT opcodes), which is not supported`);
        case 0x97: // NEXT_BUFFER
        case 0x98: // READONLY_BUFFER
          throw new PickleFormatError(`${this.where(opAt)}: pickle uses out-of-band buffers (protocol 5), which are not supported`);
        default:
          throw new PickleFormatError(
            `${this.where(opAt)}: corrupt pickle or unsupported opcode 0x${op.toString(16).padStart(2, '0')}`,
          );
      }
    }
  }
}

function parseDecimal(s: string, err: Error): number {
  if (!/^\d+$/.test(s)) throw err;
  return Number(s);
}

function parseInteger(s: string, err: Error): number | bigint {
  if (!/^[-+]?\d+$/.test(s.trim()) || s.length > 2 * MAX_LONG_BYTES) throw err;
  const v = BigInt(s.trim());
  return v >= -MAX_SAFE_BIG && v <= MAX_SAFE_BIG ? Number(v) : v;
}

