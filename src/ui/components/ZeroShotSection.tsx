/**
 * Zero-shot (text-driven) adaptation in the Adaptation panel: describe the target domain (and the
 * source, default "photo"); the direction comes from CLIP's text tower. With a reference image too, the
 * text's share of the direction is a slider, or the reference can be left aside. Says why the mode is
 * unavailable (no CLIP with a text tower, no BPE vocabulary).
 */
import { useController, useStudio } from '../context.ts';
import { zeroShotUnavailable } from '../state/zero-shot-slice.ts';
import { DropZone } from './DropZone.tsx';

export function ZeroShotSection({ locked }: { locked: boolean }) {
  const c = useController();
  const text = useStudio((s) => s.settings.text);
  const hasReference = useStudio((s) => s.reference !== null);
  const vocab = useStudio((s) => s.zeroShot);
  const why = useStudio(zeroShotUnavailable);
  const on = text !== undefined;

  return (
    <div className="zero-shot" data-testid="zero-shot" data-enabled={on} data-available={why === null}>
      <label className="row">
        <input type="checkbox" checked={on} disabled={locked} onChange={(e) => void c.zeroShot.enable(e.target.checked)} data-testid="zero-shot-toggle" />
        <span>Describe the target instead (zero-shot, CLIP text)</span>
      </label>
      {on && (
        <div className="zero-shot-body">
          <label className="field">
            <span>Target description</span>
            <input
              type="text"
              value={text.prompt}
              placeholder="a pencil sketch"
              maxLength={200}
              disabled={locked}
              onChange={(e) => void c.zeroShot.update({ prompt: e.target.value })}
              data-testid="zero-shot-prompt"
            />
          </label>
          <label className="field">
            <span>Source description</span>
            <input
              type="text"
              value={text.sourcePrompt}
              placeholder="photo"
              maxLength={200}
              disabled={locked}
              onChange={(e) => void c.zeroShot.update({ sourcePrompt: e.target.value })}
              data-testid="zero-shot-source"
            />
          </label>
          {hasReference && (
            <>
              <label className="row small-text">
                <input
                  type="checkbox"
                  checked={text.withReference !== false}
                  disabled={locked}
                  onChange={(e) => void c.zeroShot.update({ withReference: e.target.checked })}
                  data-testid="zero-shot-with-reference"
                />
                <span>Use the reference image too</span>
              </label>
              {text.withReference !== false && (
                <label className="field inline">
                  <span>Text share</span>
                  <input
                    type="range"
                    min={0}
                    max={1}
                    step={0.05}
                    value={text.weight}
                    disabled={locked}
                    onChange={(e) => void c.zeroShot.update({ weight: Number(e.target.value) })}
                    aria-label="Share of the text in the direction"
                    data-testid="zero-shot-weight"
                  />
                  <output>{text.weight.toFixed(2)}</output>
                </label>
              )}
            </>
          )}
          <div className="muted small-text">
            {hasReference && text.withReference !== false
              ? 'The direction mixes the reference’s and the text’s; L_dis still learns the reference’s look.'
              : 'Text only: no reference and no μ_s; L_dis is off (nothing to match), the structure terms keep the faces.'}
          </div>
          <DropZone
            testId="vocab-drop"
            accept=".gz,.txt"
            label={vocab.vocabulary ? `Vocabulary: ${vocab.vocabulary.name}` : 'CLIP BPE vocabulary'}
            hint={vocab.vocabulary ? `${vocab.vocabulary.tokens} tokens · drop another to replace` : 'bpe_simple_vocab_16e6.txt.gz (OpenAI CLIP) or the model’s merges.txt — not shipped with the studio'}
            disabled={locked || vocab.vocabularyBusy}
            compact
            onFile={(f) => void c.zeroShot.loadVocabulary(f, f.name)}
          />
          {vocab.vocabularyError && (
            <div className="error" role="alert" data-testid="vocab-error">
              {vocab.vocabularyError}
            </div>
          )}
          {why && (
            <div className="warning small-text" data-testid="zero-shot-unavailable">
              {why}
            </div>
          )}
        </div>
      )}
    </div>
  );
}
