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
  /** Accept several files at once (drop or picker); they arrive together in `onFiles`. */
  multiple?: boolean;
  onFiles?: (files: File[]) => void;
}) {
  const deliver = (list: FileList | null | undefined) => {
    const files = [...(list ?? [])];
    if (files.length === 0 || props.disabled) return;
    if (props.multiple && props.onFiles) props.onFiles(files);
    else props.onFile(files[0]);
  };
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
        deliver(e.dataTransfer.files);
      }}
    >
      <div className="dropzone-label">{props.label}</div>
      {props.hint && <div className="dropzone-hint">{props.hint}</div>}
      <input
        ref={input}
        type="file"
        accept={props.accept}
        multiple={props.multiple}
        hidden
        data-testid={`${props.testId}-input`}
        onChange={(e) => {
          const files = e.target.files ? [...e.target.files] : [];
          e.target.value = '';
          if (files.length && props.multiple && props.onFiles) props.onFiles(files);
          else if (files.length) props.onFile(files[0]);
        }}
      />
    </div>
  );
}
