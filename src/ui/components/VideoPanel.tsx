/**
 * Orbit video: the camera path of EG3D's gen_videos.py around the chosen latents — source, adapted or
 * side by side — rendered and encoded in the engine worker (WebCodecs), with progress, cancel, a
 * preview and the download.
 */
import { useEffect, useMemo, useState } from 'react';
import { useController, useStudio } from '../context.ts';
import { downloadBlob } from '../grid.ts';
import { formatBytes } from '../state/format.ts';
import { canMakeVideo, MAX_VIDEO_FRAMES, videoContentAvailable } from '../state/video-slice.ts';
import type { VideoContent, VideoResult } from '../../engine/types.ts';
import { ProgressBar } from './ProgressBar.tsx';

const CONTENTS: { value: VideoContent; label: string }[] = [
  { value: 'source', label: 'Source' },
  { value: 'adapted', label: 'Adapted' },
  { value: 'side-by-side', label: 'Side by side' },
];

function fileName(r: VideoResult, seeds: number[]): string {
  return `orbit-seed${seeds.join('_')}-${r.frames}f.${r.extension}`;
}

function ClipSummary({ result, seeds }: { result: VideoResult; seeds: number[] }) {
  const url = useMemo(() => URL.createObjectURL(new Blob([result.bytes as Uint8Array<ArrayBuffer>], { type: result.mimeType })), [result]);
  useEffect(() => () => URL.revokeObjectURL(url), [url]);
  return (
    <div className="video-result" data-testid="video-result" data-mime={result.mimeType} data-codec={result.codec}>
      <video className="video-preview" src={url} controls loop muted autoPlay playsInline data-testid="video-preview" aria-label="Orbit video preview" />
      <div className="controls">
        <button onClick={() => downloadBlob(new Blob([result.bytes as Uint8Array<ArrayBuffer>], { type: result.mimeType }), fileName(result, seeds))} data-testid="video-download">
          ⤓ {fileName(result, seeds)} ({formatBytes(result.bytes.byteLength)})
        </button>
      </div>
      <div className="muted small-text" data-testid="video-stats">
        {result.codec} · {result.width}×{result.height} · {result.frames} frames at {result.fps.toFixed(result.fps % 1 ? 2 : 0)} fps ({result.seconds} s) · rendering{' '}
        {result.renderSeconds.toFixed(1)} s ({(result.frames / result.renderSeconds).toFixed(2)} frames/s), waiting for the encoder{' '}
        {result.encodeSeconds.toFixed(2)} s
      </div>
    </div>
  );
}

export function VideoPanel() {
  const c = useController();
  const v = useStudio((s) => s.video);
  const enabled = useStudio(canMakeVideo);
  const adaptedOk = useStudio((s) => videoContentAvailable(s, 'adapted'));
  const [seedsText, setSeedsText] = useState(v.seeds.join(', '));
  const running = v.status === 'running';
  const fps = v.frames / v.seconds;

  return (
    <section className="panel" aria-labelledby="video-title" data-testid="video-panel" data-status={v.status}>
      <h2 id="video-title">Orbit video</h2>
      <div className="muted small-text">
        The camera path of EG3D&apos;s <code>gen_videos.py</code> (yaw ±0.35, pitch ±0.25 around the frontal view), one row per latent; rendered and
        encoded in your browser (WebCodecs: WebM VP9/VP8, else MP4 H.264).
      </div>
      <div className="segmented" role="group" aria-label="Video content" data-testid="video-content">
        {CONTENTS.map((o) => (
          <button
            key={o.value}
            className={v.content === o.value ? 'active' : ''}
            aria-pressed={v.content === o.value}
            disabled={running || (o.value !== 'source' && !adaptedOk)}
            title={o.value !== 'source' && !adaptedOk ? 'Run an adaptation or load adapted weights first' : undefined}
            onClick={() => c.video.setContent(o.value)}
            data-testid={`video-content-${o.value}`}
          >
            {o.label}
          </button>
        ))}
      </div>
      <div className="controls row" role="group" aria-label="Video settings">
        <label className="field">
          <span>Seeds</span>
          <input
            type="text"
            value={seedsText}
            disabled={running}
            size={10}
            data-testid="video-seeds"
            onChange={(e) => setSeedsText(e.target.value)}
            onBlur={() => c.video.setSeeds(seedsText)}
          />
        </label>
        <label className="field">
          <span>Frames</span>
          <input type="number" min={2} max={MAX_VIDEO_FRAMES} value={v.frames} disabled={running} data-testid="video-frames" onChange={(e) => c.video.setFrames(Number(e.target.value))} />
        </label>
        <label className="field">
          <span>Length (s)</span>
          <input type="number" min={0.1} step={0.5} value={v.seconds} disabled={running} data-testid="video-seconds" onChange={(e) => c.video.setSeconds(Number(e.target.value))} />
        </label>
      </div>
      <div className="controls row">
        {!running && (
          <button
            className="primary"
            disabled={!enabled}
            data-testid="video-start"
            onClick={() => {
              if (c.video.setSeeds(seedsText)) void c.video.start();
            }}
          >
            Make video
          </button>
        )}
        {running && (
          <button className="danger" onClick={() => void c.video.cancel()} data-testid="video-cancel">
            ■ Cancel
          </button>
        )}
        <span className="muted small-text" data-testid="video-fps">
          {fps.toFixed(fps % 1 ? 2 : 0)} fps
        </span>
      </div>
      {running && (
        <div data-testid="video-progress">
          <ProgressBar value={v.progress?.done ?? 0} max={v.progress?.total ?? v.frames} label="Video progress" testId="video-bar" indeterminate={!v.progress} />
          <div className="muted small-text">{v.progress ? `Frame ${v.progress.done} of ${v.progress.total} rendered and encoded` : 'Starting…'}</div>
        </div>
      )}
      {v.status === 'cancelled' && (
        <div className="muted small-text" role="status" data-testid="video-cancelled">
          Cancelled: no file was made.
        </div>
      )}
      {v.error && (
        <div className="error" role="alert" data-testid="video-error">
          {v.error}
        </div>
      )}
      {v.result && <ClipSummary result={v.result} seeds={v.resultSeeds} />}
    </section>
  );
}
