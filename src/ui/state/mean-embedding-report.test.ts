/** μ_s reports: the engine's 'mean-embedding' events land in the store (one per encoder, cleared by a new run) and read as the studio shows them. */
import { describe, expect, it } from 'vitest';
import { describeMeanEmbedding, isMeanEmbeddingStable, type EngineEvent } from '../../engine/types.ts';
import { boot } from './controller.test-doubles.ts';

const mu = (encoder: string, samples: number, stability: number, cached: boolean): EngineEvent => ({ type: 'mean-embedding', encoder, encoderName: `${encoder} name`, samples, stability, cached });

describe('μ_s reports in the studio store', () => {
  it('stores each encoder’s report, replaces a repeated one and clears them when a run starts', async () => {
    const { c, store, engine } = await boot();
    await c.reference.useExample('sketch');
    await c.run.start();
    expect(store.getState().meanEmbeddings).toEqual([]);
    engine.emit(mu('clip-a', 512, 0.9981, true));
    engine.emit(mu('mobilenet', 512, 0.97, false));
    expect(store.getState().meanEmbeddings).toEqual([
      { encoder: 'clip-a', encoderName: 'clip-a name', samples: 512, stability: 0.9981, cached: true },
      { encoder: 'mobilenet', encoderName: 'mobilenet name', samples: 512, stability: 0.97, cached: false },
    ]);
    engine.emit(mu('clip-a', 1024, 0.999, false));
    expect(store.getState().meanEmbeddings.map((m) => [m.encoder, m.samples])).toEqual([
      ['mobilenet', 512],
      ['clip-a', 1024],
    ]);
    // The report stays after the run (it describes the weights just made) until the next run starts.
    engine.emit({ type: 'state', state: 'done' });
    expect(store.getState().meanEmbeddings).toHaveLength(2);
    await c.run.start();
    expect(store.getState().meanEmbeddings).toEqual([]);
  });

  it('reads "μ_s · N samples · stability S (cached)"; below 0.99 (or unmeasurable) is not stable', () => {
    expect(describeMeanEmbedding({ samples: 512, stability: 0.99812, cached: true })).toBe('μ_s · 512 samples · stability 0.998 (cached)');
    expect(describeMeanEmbedding({ samples: 64, stability: 0.9899, cached: false })).toBe('μ_s · 64 samples · stability 0.989');
    expect(describeMeanEmbedding({ samples: 1, stability: NaN, cached: false })).toMatch(/^μ_s · 1 sample · stability n\/a/);
    expect(isMeanEmbeddingStable({ stability: 0.99 })).toBe(true);
    expect(isMeanEmbeddingStable({ stability: 0.9899 })).toBe(false);
    expect(isMeanEmbeddingStable({ stability: NaN })).toBe(false);
  });
});
