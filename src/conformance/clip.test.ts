import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackends } from '../testing/backends.ts';
import { formatTable } from './report.ts';
import { runClipConformance } from './clip.ts';

// Both legs: on webgpu this is the whole CLIP tower (forward, every block's tokens, the input
// gradient, the text tower) against the PyTorch fixture.
describeBackends('CLIP conformance (clip-tiny fixture, .pt and HF safetensors)', (suite) => {
  it('matches every PyTorch reference within tolerance', async () => {
    const before = tf.memory().numTensors;
    const result = await runClipConformance('../shared/fixtures/clip-tiny.json');
    console.log(formatTable(result));
    result.rows.forEach((row) => suite.record(row));
    const tensors = result.rows.map((r) => `${r.fixture}:${r.tensor}`);
    for (const f of ['clip-tiny/pt', 'clip-tiny/hf']) {
      for (const t of ['architecture', 'image_embeds', 'block0.tokens', 'block1.tokens', 'block2.tokens', 'grad.images']) expect(tensors).toContain(`${f}:${t}`);
    }
    expect(tensors).toContain('clip-tiny/pt:text_embeds');
    expect(tensors).toContain('clip-tiny:resize.bicubic_aa256to224');
    expect(tensors).toContain('clip-tiny:text_ids (tokenizer)');
    expect(result.rows.filter((r) => !r.pass)).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
