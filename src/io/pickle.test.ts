import { describe, expect, it } from 'vitest';
import { MemoryByteSource } from './byte-source.ts';
import {
  loadPickle,
  PickleBytes,
  PickleFormatError,
  plainClassHandler,
  PyObject,
  UnsupportedGlobalError,
  type GlobalHandler,
} from './pickle.ts';

/** Tiny pickle assembler: opcodes as bytes, little helpers for the arguments. */
class P {
  private parts: number[] = [];
  op(...bytes: number[]): this {
    this.parts.push(...bytes);
    return this;
  }
  u32(n: number): this {
    return this.op(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    if (b.length < 256) return this.op(0x8c, b.length, ...b); // SHORT_BINUNICODE
    return this.op(0x58).u32(b.length).op(...b); // BINUNICODE
  }
  text(s: string): this {
    return this.op(...new TextEncoder().encode(s));
  }
  bytes(): Uint8Array {
    return new Uint8Array(this.parts);
  }
}

const none = new Map<string, GlobalHandler>();
const run = (p: P | Uint8Array, globals: Map<string, GlobalHandler> = none, windowBytes?: number) =>
  loadPickle(new MemoryByteSource(p instanceof P ? p.bytes() : p, 'test.pkl'), { globals, windowBytes });

describe('pickle VM', () => {
  it('decodes scalars, strings, containers and memo references', async () => {
    const p = new P()
      .op(0x80, 4) // PROTO 4
      .op(0x95, 0, 0, 0, 0, 0, 0, 0, 0) // FRAME (hint)
      .op(0x7d, 0x94) // EMPTY_DICT, MEMOIZE 0
      .op(0x28) // MARK
      .str('int').op(0x4a).u32(-5 >>> 0) // BININT -5
      .str('b1').op(0x4b, 200) // BININT1
      .str('b2').op(0x4d, 0x34, 0x12) // BININT2 0x1234
      .str('big').op(0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19) // LONG1 (torch magic)
      .str('neg').op(0x8a, 1, 0xff) // LONG1 -1
      .str('f').op(0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0) // BINFLOAT 1.5
      .str('t').op(0x88).str('n').op(0x4e) // NEWTRUE, NONE
      .str('ü€').op(0x94) // non-ASCII key, MEMOIZE 1
      .op(0x5d, 0x28, 0x4b, 1, 0x4b, 2, 0x65) // EMPTY_LIST MARK 1 2 APPENDS
      .op(0x75) // SETITEMS
      .str('tup').op(0x4b, 1, 0x4b, 2, 0x86) // TUPLE2
      .op(0x73) // SETITEM
      .str('again').op(0x68, 1) // BINGET 1
      .op(0x73)
      .str('set').op(0x8f, 0x28, 0x4b, 7, 0x90) // EMPTY_SET MARK 7 ADDITEMS
      .op(0x73)
      .op(0x2e); // STOP
    const { value, end } = await run(p);
    expect(end).toBe(p.bytes().length);
    const d = value as Map<string, unknown>;
    expect(d.get('int')).toBe(-5);
    expect(d.get('b1')).toBe(200);
    expect(d.get('b2')).toBe(0x1234);
    expect(d.get('big')).toBe(0x1950a86a20f9469cfc6cn);
    expect(d.get('neg')).toBe(-1);
    expect(d.get('f')).toBe(1.5);
    expect(d.get('t')).toBe(true);
    expect(d.get('n')).toBe(null);
    expect(d.get('ü€')).toEqual([1, 2]);
    expect(d.get('tup')).toEqual([1, 2]);
    expect(d.get('again')).toBe('ü€');
    expect(d.get('set')).toEqual(new Set([7]));
  });

  it('routes globals through the allowlist: REDUCE, NEWOBJ and BUILD', async () => {
    const globals = new Map<string, GlobalHandler>([
      ['mod.add', { call: (args) => (args[0] as number) + (args[1] as number) }],
      ['mod.Thing', plainClassHandler('mod.Thing')],
    ]);
    const p = new P()
      .op(0x80, 2)
      .op(0x5d) // EMPTY_LIST
      .op(0x28) // MARK
      .text('cmod\nadd\n').op(0x4b, 2, 0x4b, 3, 0x86, 0x52) // GLOBAL, (2,3), REDUCE
      .str('mod').str('Thing').op(0x93, 0x29, 0x81) // STACK_GLOBAL, (), NEWOBJ
      .op(0x7d).str('x').op(0x4b, 9, 0x73, 0x62) // {x: 9} BUILD
      .op(0x65, 0x2e); // APPENDS STOP
    const { value } = await run(p, globals);
    const [sum, thing] = value as [number, PyObject];
    expect(sum).toBe(5);
    expect(thing).toBeInstanceOf(PyObject);
    expect(thing.className).toBe('mod.Thing');
    expect(thing.get('x')).toBe(9);
  });

  it('throws UnsupportedGlobalError naming a foreign global, without calling anything', async () => {
    const p = new P().op(0x80, 2).text('cos\nsystem\n').str('echo pwned').op(0x85, 0x52, 0x2e);
    const err = await run(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedGlobalError);
    expect((err as UnsupportedGlobalError).module).toBe('os');
    expect((err as UnsupportedGlobalError).globalName).toBe('system');
    expect(String(err)).toMatch(/os\.system/);
  });

  it('records large byte strings by position without copying, and inlines small ones', async () => {
    const big = 100_000;
    const p = new P().op(0x80, 4, 0x28).op(0x43, 3, 1, 2, 3).op(0x42).u32(big);
    const head = p.bytes().length;
    const bytes = new Uint8Array(head + big + 2);
    bytes.set(p.bytes());
    bytes.set([0x74, 0x2e], head + big); // TUPLE STOP
    const { value } = await run(bytes, none, 4096);
    const [small, large] = value as [PickleBytes, PickleBytes];
    expect(small.inline).toEqual(new Uint8Array([1, 2, 3]));
    expect(large.inline).toBeNull();
    expect(large.offset).toBe(head);
    expect(large.length).toBe(big);
  });

  it('keeps the memo across read windows', async () => {
    const p = new P().op(0x80, 4, 0x5d, 0x28).str('shared').op(0x94);
    for (let k = 0; k < 2000; k++) p.op(0x68, 0); // BINGET 0, two thousand times
    p.op(0x65, 0x2e);
    const { value } = await run(p, none, 64);
    expect((value as string[]).length).toBe(2001);
    expect((value as string[]).every((s) => s === 'shared')).toBe(true);
  });

  it('reports progress up to the total', async () => {
    const bytes = new P().op(0x80, 4, 0x4e, 0x2e).bytes();
    const seen: [number, number][] = [];
    await loadPickle(new MemoryByteSource(bytes), { globals: none, onProgress: (a, b) => seen.push([a, b]) });
    expect(seen.at(-1)).toEqual([bytes.length, bytes.length]);
  });

  it('rejects a non-pickle file (PNG header) with PickleFormatError', async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    await expect(run(png)).rejects.toThrow(PickleFormatError);
    await expect(run(png)).rejects.toThrow(/not a Python pickle/);
    await expect(run(new Uint8Array(0))).rejects.toThrow(PickleFormatError);
  });

  it('rejects truncated and corrupt streams with PickleFormatError', async () => {
    const whole = new P().op(0x80, 4, 0x7d).str('key').str('a value').op(0x73, 0x2e).bytes();
    for (const cut of [3, 8, whole.length - 1]) {
      await expect(run(whole.subarray(0, cut))).rejects.toThrow(/truncated/);
    }
    await expect(run(new P().op(0x80, 4, 0x68, 5, 0x2e))).rejects.toThrow(/memo key 5/);
    await expect(run(new P().op(0x80, 4, 0x73, 0x2e))).rejects.toThrow(/stack underflow/);
    await expect(run(new P().op(0x80, 4, 0xff))).rejects.toThrow(/opcode 0xff/);
    await expect(run(new P().op(0x80, 9, 0x4e, 0x2e))).rejects.toThrow(/protocol 9/);
    // A huge BINBYTES length past the end of the file must not be "skipped" silently.
    await expect(run(new P().op(0x80, 4, 0x42).u32(1 << 30).op(0x2e))).rejects.toThrow(/truncated/);
  });

  it('decodes the text opcodes nested legacy streams may use', async () => {
    const p = new P().op(0x80, 2, 0x28).text('I42\n').text('L-7L\n').text('F0.25\n').text('I01\n').op(0x70).text('3\n').op(0x67).text('3\n').op(0x74, 0x2e);
    const { value } = await run(p);
    expect(value).toEqual([42, -7, 0.25, true, true]);
  });
});
