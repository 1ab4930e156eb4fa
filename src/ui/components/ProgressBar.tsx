export function ProgressBar(props: { value: number; max: number; label: string; testId?: string; indeterminate?: boolean }) {
  const frac = props.max > 0 ? Math.max(0, Math.min(1, props.value / props.max)) : 0;
  return (
    <div
      className={`progress${props.indeterminate ? ' indeterminate' : ''}`}
      role="progressbar"
      aria-label={props.label}
      aria-valuemin={0}
      aria-valuemax={props.max || undefined}
      aria-valuenow={props.indeterminate ? undefined : props.value}
      data-testid={props.testId}
    >
      <div className="progress-fill" style={{ width: props.indeterminate ? undefined : `${frac * 100}%` }} />
    </div>
  );
}
