/**
 * The fuzz child process: prepares the targets, then mutates and loads one case per message and
 * replies with its outcome. It runs in its own process so a hang or a crash is bounded by the parent
 * (which kills and restarts it) and cannot take the run down.
 */
import * as tf from '@tensorflow/tfjs';
import { installAllocationGuard, setAllocationBudget, takeViolation } from './guard.ts';
import { caseSeed, mutate } from './mutate.ts';
import type { FuzzTarget, PreparedTarget } from './targets.ts';
import { allocationBudget, classify } from './outcome.ts';
import type { CaseOutcome, ChildReply, ChildRequest } from './protocol.ts';

installAllocationGuard();

let targets: FuzzTarget[] = [];
let dir = '';
const prepared = new Map<string, Promise<PreparedTarget>>();

function preparedTarget(name: string): Promise<PreparedTarget> {
  let p = prepared.get(name);
  if (!p) {
    const t = targets.find((x) => x.name === name);
    if (!t) throw new Error(`fuzz child: unknown target ${name}`);
    p = t.prepare(dir);
    prepared.set(name, p);
  }
  return p;
}

async function runCase(req: Extract<ChildRequest, { type: 'case' }>): Promise<CaseOutcome> {
  const target = await preparedTarget(req.target);
  const seed = caseSeed(req.runSeed, req.target, req.index);
  const m = req.pristine
    ? { bytes: target.bytes.slice(), steps: ['pristine'] }
    : mutate(target.bytes, { fields: target.fields, safetensors: target.safetensors, truncateOnly: target.truncateOnly }, seed);
  const tensorsBefore = tf.memory().numTensors;
  const t0 = performance.now();
  setAllocationBudget(allocationBudget(m.bytes.length));
  let result: Pick<CaseOutcome, 'outcome' | 'type' | 'message' | 'stack'>;
  try {
    await target.run(m.bytes);
    result = { outcome: 'ok', type: 'ok' };
  } catch (e) {
    result = classify(e);
  }
  const violation = takeViolation();
  setAllocationBudget(Infinity);
  if (violation) {
    result = { outcome: 'failure', type: 'huge-allocation', message: `${violation.what}: ${violation.bytes} bytes for a ${m.bytes.length}-byte file`, stack: violation.stack };
  }
  const leaked = tf.memory().numTensors - tensorsBefore;
  if (leaked !== 0 && result.outcome !== 'failure') {
    result = { outcome: 'failure', type: 'tensor-leak', message: `${leaked} tfjs tensor(s) left after the load (${result.type})` };
  }
  return { target: req.target, index: req.index, seed, steps: m.steps, ms: performance.now() - t0, ...result };
}

function reply(msg: ChildReply): void {
  process.send!(msg);
}

process.on('message', (raw) => {
  const req = raw as ChildRequest;
  void (async () => {
    try {
      if (req.type === 'init') {
        dir = req.dir;
        const mod = (await import(req.targetsModule)) as { TARGETS: FuzzTarget[]; LARGE_TARGET?: FuzzTarget };
        targets = [...mod.TARGETS, ...(mod.LARGE_TARGET ? [mod.LARGE_TARGET] : [])];
        await tf.setBackend('cpu');
        await tf.ready();
        reply({ type: 'ready', targets: mod.TARGETS.map((t) => t.name), large: mod.LARGE_TARGET?.name ?? null });
      } else if (req.type === 'case') {
        reply({ type: 'result', result: await runCase(req) });
      }
    } catch (e) {
      reply({ type: 'fatal', message: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) });
    }
  })();
});
