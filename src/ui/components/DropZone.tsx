/** A drop target that is also a keyboard-accessible file picker button. */
import { useRef, useState, type ReactNode } from 'react';

export function DropZone(props: {
  accept: string;
  label: string;
  hint?: ReactNode;
  testId: string;
  disabled?: boolean;
  compact?: boolean;
  onFile: (file: File) => void;
}) {
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  return (
    <div
      className={`dropzone${over ? ' over' : ''}${props.compact ? ' compact' : ''}${props.disabled ? ' disabled' : ''}`}
      data-testid={props.testId}
      role="button"
      tabIndex={0}
      aria-label={props.label}
      aria-disabled={props.disabled}
      onClick={() => !props.disabled && input.current?.click()}
      onKeyDown={(e) => {
        if ((e.key === 'Enter' || e.key === ' ') && !props.disabled) {
          e.preventDefault();
          input.current?.click();
        }
      }}
      onDragOver={(e) => {
        e.preventDefault();
        e.dataTransfer.dropEffect = props.disabled ? 'none' : 'copy';
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        e.stopPropagation();
        setOver(false);
        const f = e.dataTransfer.files[0];
        if (f && !props.disabled) props.onFile(f);
      }}
    >
      <div className="dropzone-label">{props.label}</div>
      {props.hint && <div className="dropzone-hint">{props.hint}</div>}
      <input
        ref={input}
        type="file"
        accept={props.accept}
        hidden
        data-testid={`${props.testId}-input`}
        onChange={(e) => {
          const f = e.target.files?.[0];
          e.target.value = '';
          if (f) props.onFile(f);
        }}
      />
    </div>
  );
}
