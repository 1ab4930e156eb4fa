/** One live loss curve drawn on a canvas (no chart library): the series, min/max, the Tri-D → G2 boundary. */
import { useEffect, useRef } from 'react';
import { chartGeometry, type LossPoint } from '../state/loss-history.ts';
import { formatLoss } from '../state/format.ts';

const W = 300, H = 64;

export function LossChart(props: { label: string; series: LossPoint[]; totalIterations: number; color: string; testId: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const geo = chartGeometry(props.series, props.totalIterations, W, H);
  useEffect(() => {
    const cv = canvas.current;
    const ctx = cv?.getContext('2d');
    if (!cv || !ctx) return;
    const dpr = window.devicePixelRatio || 1;
    if (cv.width !== W * dpr) {
      cv.width = W * dpr;
      cv.height = H * dpr;
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    ctx.strokeStyle = 'rgba(255,255,255,0.06)';
    ctx.lineWidth = 1;
    for (let i = 1; i < 4; i++) {
      ctx.beginPath();
      ctx.moveTo(0, (H * i) / 4 + 0.5);
      ctx.lineTo(W, (H * i) / 4 + 0.5);
      ctx.stroke();
    }
    if (geo.phaseBoundaryX !== null) {
      ctx.strokeStyle = 'rgba(255,255,255,0.25)';
      ctx.setLineDash([3, 3]);
      ctx.beginPath();
      ctx.moveTo(geo.phaseBoundaryX + 0.5, 0);
      ctx.lineTo(geo.phaseBoundaryX + 0.5, H);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    if (geo.points.length === 0) return;
    ctx.strokeStyle = props.color;
    ctx.lineWidth = 1.5;
    ctx.lineJoin = 'round';
    ctx.beginPath();
    geo.points.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(x, y) : ctx.lineTo(x, y)));
    ctx.stroke();
    const [lx, ly] = geo.points[geo.points.length - 1];
    ctx.fillStyle = props.color;
    ctx.beginPath();
    ctx.arc(lx, ly, 2.5, 0, Math.PI * 2);
    ctx.fill();
  });
  return (
    <figure className="loss-chart" data-testid={props.testId} data-points={props.series.length}>
      <figcaption className="row between">
        <span>
          <span className="swatch" style={{ background: props.color }} /> {props.label}
        </span>
        <span className="mono" data-testid={`${props.testId}-value`}>
          {formatLoss(geo.last)}
        </span>
      </figcaption>
      <canvas ref={canvas} style={{ width: W, height: H }} aria-label={`${props.label} over iterations`} role="img" />
      {props.series.length > 0 && (
        <div className="chart-range mono muted">
          min {formatLoss(geo.min)} · max {formatLoss(geo.max)}
        </div>
      )}
    </figure>
  );
}
