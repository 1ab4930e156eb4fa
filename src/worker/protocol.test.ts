/**
 * The worker protocol end to end in Node: a real LocalEngine on the tiny fixture served over a
 * MessageChannel, driven through the client proxy — load, reference, start, pause, checkpoint,
 * resume, cancel, resume-from-checkpoint, export/import, render, typed errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { initNodeBackend } from '../platform/node-backend.ts';
import { LocalEngine } from '../engine/local-engine.ts';
import { EngineError, type AdaptSettings, type EngineEvent } from '../engine/types.ts';
import { MemoryByteSource } from '../io/byte-source.ts';
import { SafetensorsFile, writeSafetensors } from '../io/safetensors.ts';
import { CHEAP_RENDER, FIXTURES, stripedReference } from '../testing/fixtures.ts';
import { createEngineClient, type EngineClient } from './client.ts';
import { serveEngine } from './handler.ts';
import type { MessageEndpoint } from './protocol.ts';

let client: EngineClient;
let engine: LocalEngine;
let channel: MessageChannel;
let stopServing: () => void;
const events: EngineEvent[] = [];

function settings(over: Partial<AdaptSettings> = {}): AdaptSettings {
  return {
    iterations: [2, 1],
    batchSize: 1,
    learningRate: 0.0016,
    betas: [0, 0.992],
    lossWeights: { dir: 1, dis: 1, imageStructure: 1, featureStructure: 10 },
    encoders: [],
    seed: 3,
    truncationPsi: 1,
    meanEmbeddingSamples: 2,
    previewEvery: 1,
    options: { previewLatents: 1, previewViews: 1, step1Output: 'raw-upsampled' },
    ...over,
  };
}

/** Resolves with the first event (from now on) that matches. */
function nextEvent<T extends EngineEvent>(pred: (e: EngineEvent) => e is T): Promise<T>;
function nextEvent(pred: (e: EngineEvent) => boolean): Promise<EngineEvent>;
function nextEvent(pred: (e: EngineEvent) => boolean): Promise<EngineEvent> {
  return new Promise((resolve) => {
    const off = client.subscribe((e) => {
      if (pred(e)) {
        off();
        resolve(e);
      }
    });
  });
}

beforeAll(async () => {
  await initNodeBackend('wasm');
  engine = new LocalEngine({
    probe: async (preference) => ({ backend: 'wasm', preference, summary: 'Node test: wasm backend' }),
    renderOverrides: CHEAP_RENDER,
    chunkRays: 4096,
  });
  channel = new MessageChannel();
  stopServing = serveEngine(engine, channel.port2 as unknown as MessageEndpoint);
  client = createEngineClient(channel.port1 as unknown as MessageEndpoint);
  client.subscribe((e) => events.push(e));
  await client.ready;
});

afterAll(async () => {
  await client?.dispose().catch(() => {});
  stopServing?.();
  channel?.port1.close();
  channel?.port2.close();
});

describe('engine worker protocol (MessageChannel, real LocalEngine)', () => {
  it('loads models and rejects bad input with typed errors', async () => {
    const caps = await client.probe('wasm');
    expect(caps.backend).toBe('wasm');
    expect(caps.preference).toBe('wasm'); // the backend preference crosses the worker boundary
    await expect(client.start(settings())).rejects.toMatchObject({ code: 'not-ready' });
    const pkl = new Blob([readFileSync(`${FIXTURES}eg3d-tiny.pkl`)]);
    const info = await client.loadGenerator({ kind: 'file', file: pkl, name: 'eg3d-tiny.pkl' });
    expect(info.kind).toBe('generator');
    expect(info.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(events.some((e) => e.type === 'load-progress')).toBe(true);
    const enc = await client.loadEncoder({ kind: 'file', file: new Blob([readFileSync(`${FIXTURES}clip-tiny.hf.safetensors`)]), name: 'clip-tiny.hf.safetensors' });
    expect(enc.kind).toBe('encoder');
    const bad = await client.setReference({ width: 4, height: 4, data: new Uint8ClampedArray(64) }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(EngineError);
    expect((bad as EngineError).code).toBe('bad-reference');
    const notPickle = await client.loadGenerator({ kind: 'file', file: new Blob([new Uint8Array(100)]), name: 'junk.pkl' }).catch((e: unknown) => e);
    expect((notPickle as EngineError).code).toMatch(/corrupt-file|incompatible-file/);
    // the failed load kept the previous generator
    await client.setReference(stripedReference());
  });

  it('start → pause → checkpoint → resume → cancel keeps the last checkpoint; resuming from it completes the run', async () => {
    const firstProgress = nextEvent((e) => e.type === 'progress' && e.phase === 'tri-d');
    const run = client.start(settings());
    await firstProgress;
    const paused = nextEvent((e) => e.type === 'state' && e.state === 'paused');
    await client.pause();
    await paused;
    const ckEvent = nextEvent((e): e is Extract<EngineEvent, { type: 'checkpoint' }> => e.type === 'checkpoint');
    await client.checkpoint();
    const ck = await ckEvent;
    expect(ck.globalIteration).toBe(1);
    expect(ck.bytes.length).toBeGreaterThan(1000);
    const running = nextEvent((e) => e.type === 'state' && e.state === 'running');
    await client.resume();
    await running;
    const cancelled = nextEvent((e) => e.type === 'state' && e.state === 'cancelled');
    const cancelCk = nextEvent((e): e is Extract<EngineEvent, { type: 'checkpoint' }> => e.type === 'checkpoint');
    await client.cancel();
    await run; // a cancelled run resolves
    await cancelled;
    const kept = await cancelCk;
    expect(kept.globalIteration).toBeGreaterThanOrEqual(1);
    expect(kept.globalIteration).toBeLessThan(3);

    const progress = events.filter((e): e is Extract<EngineEvent, { type: 'progress' }> => e.type === 'progress');
    expect(progress.some((p) => p.phase === 'mean-embedding')).toBe(true);
    const p1 = progress.find((p) => p.phase === 'tri-d')!;
    expect(p1.losses && Number.isFinite(p1.losses.total) && Number.isFinite(p1.losses.dis)).toBe(true);
    expect(p1.itPerSec).toBeGreaterThan(0);
    expect(p1.totalIterations).toBe(3);
    const preview = events.find((e): e is Extract<EngineEvent, { type: 'preview' }> => e.type === 'preview')!;
    expect(preview.source).toHaveLength(1);
    expect(preview.adapted[0].width).toBe(128);

    // exports work after a cancel (the weights so far are kept)
    expect((await client.exportSafetensors()).length).toBeGreaterThan(1000);

    // resume from the kept checkpoint: continues at its iteration and finishes
    const seen: number[] = [];
    const off = client.subscribe((e) => {
      if (e.type === 'progress' && e.phase !== 'mean-embedding') seen.push(e.globalIteration);
    });
    const done = nextEvent((e) => e.type === 'state' && e.state === 'done');
    await client.start(settings(), kept.bytes);
    await done;
    off();
    expect(seen[0]).toBe(kept.globalIteration + 1);
    expect(seen[seen.length - 1]).toBe(3);
  });

  it('renders, exports, re-imports exactly, and refuses weights made for another base', async () => {
    const adapted = await client.render({ seed: 1, yaw: 0.2, pitch: 0, psi: 1, mode: 'rgb', strength: 1 });
    const source = await client.render({ seed: 1, yaw: 0.2, pitch: 0, psi: 1, mode: 'rgb', strength: 0 });
    expect(adapted.width).toBe(128);
    expect(Array.from(adapted.data)).not.toEqual(Array.from(source.data));
    const depth = await client.render({ seed: 1, yaw: 0, pitch: 0, psi: 1, mode: 'depth', strength: 1 });
    expect(depth.width).toBe(32); // neural rendering resolution (cheap test override)

    const bytes = await client.exportSafetensors();
    await client.importAdapted(new Blob([bytes.slice()]));
    const again = await client.render({ seed: 1, yaw: 0.2, pitch: 0, psi: 1, mode: 'rgb', strength: 1 });
    expect(Array.from(again.data)).toEqual(Array.from(adapted.data));

    const file = await SafetensorsFile.open(new MemoryByteSource(bytes));
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const k of file.keys()) tensors.set(k, await file.readFloat32(k));
    const metaOther = { ...file.metadata, base_generator_sha256: 'f'.repeat(64) };
    // The same tensors under another base generator's hash (PyTorch layout kept as is).
    const foreign = writeSafetensors(tensors, metaOther);
    const err = await client.importAdapted(new Blob([foreign as Uint8Array<ArrayBuffer>])).catch((e: unknown) => e);
    expect((err as EngineError).code).toBe('incompatible-file');
    expect((err as Error).message).toMatch(/different base generator/);
  });
});
