#!/usr/bin/env node
// node scripts/latency-accuracy.mjs [--runs N] [--rounds N] [--quick] [--fastest] [--check | --strict] [--heldout-only [--only a,b]]   (npm run bench:latency)
// [--zoo-only] [--profile P] [--zoo-measured FILE]: the zoo alone; an earlier calibration; no timing, the zoo's
// measurements an earlier run saved in bench-out/latency/zoo-measured.json (as --measured for the held-out set).
// Then the held-out set (scripts/latency-heldout.mjs, fetched by scripts/fetch-heldout.mjs): share within ±10%/±5%,
// worst case, per-layer share within ±20%. --heldout-only: that part alone (--only NAME,…: some of its models;
// --measured FILE: no timing, the measurements an earlier run saved in bench-out/latency/heldout-measured.json).
// --runs N: the fewest timed runs per model (default 10; small models get more, see runsFor).
//
// Predicted (mbn analyze --device, with a profile from the mbn calibrate run at the start of the round in which the
// model's lowest time was measured) against measured (mbn bench,
// 1 thread) latency over CNNs of several families and their separated versions (mbn separate --init he). Prints a
// markdown table, the median and worst |error|, and the predicted against the measured speed-up of separation,
// with the machine's load average: on a shared machine the figures move with it.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'bench-out', 'latency');
const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(args[runsAt + 1]) || 10 : 10;
const quick = args.includes('--quick');
const roundsAt = args.indexOf('--rounds');
const ROUNDS = roundsAt >= 0 ? Number(args[roundsAt + 1]) || 3 : 3;
const node = process.execPath;
const mbnBin = join(root, 'bin/mbn.js');
const log = (t) => process.stderr.write(`${t}\n`);
const mbn = (argv) => execFileSync(node, [mbnBin, ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });

if (!existsSync(join(root, 'dist/bench/models.js'))) {
  execFileSync(node, [join(root, 'node_modules/typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });
  execFileSync(node, [join(root, 'scripts/bundle.mjs')], { stdio: 'inherit' });
}
const models = await import(pathToFileURL(join(root, 'dist/bench/models.js')).href);
if (!args.includes('--profile')) rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// family: plain, residual, depthwise-heavy, squeeze-excite.
const fixtures = [
  ['models/tiny_cnn.onnx', 'plain'],
  ['models/conv_mobilenet_v1_w025.onnx', 'plain'],
  ['models/resnet_small.onnx', 'residual'],
  ['models/mobilenet_v1_w025.onnx', 'depthwise'],
  ['models/mobilenet_v2_w035.onnx', 'depthwise, residual'],
];
const zoo = quick || args.includes('--heldout-only')
  ? []
  : [
      ['alexnet', 'plain'],
      ['squeezenet1_1', 'plain (fire)'],
      ['googlenet', 'plain (inception)'],
      ['resnet50', 'residual'],
      ['shufflenet_v2_x1_0', 'depthwise'],
      ['mnasnet1_0', 'depthwise, residual'],
      ['mobilenet_v3_large', 'depthwise, squeeze-excite'],
      ['efficientnet_b0', 'depthwise, squeeze-excite'],
      ['regnet_y_400mf', 'residual, squeeze-excite'],
    ];
const cases = fixtures.map(([p, family]) => ({ path: join(root, 'fixtures', p), family }));
for (const [name, family] of zoo) {
  const dir = join(out, name);
  mkdirSync(dir, { recursive: true });
  cases.push({ path: models.withSyntheticWeights(join(root, 'fixtures/graph-only/zoo', `${name}.onnx`), dir), family });
}

let load0 = loadavg()[0];
// --profile FILE: reuse a profile from an earlier mbn calibrate (when iterating on the model). Without it, the
// rounds are bracketed by calibrations (one before the first, one after each), and a model's figure is predicted
// from a calibration next to the round it is measured in: on a shared machine the speed drifts over minutes (one
// calibration at load 0.4 put every held-out model 5–24% under its timings at load 1.4), which is the machine's
// error, not the model's. Of a round's two calibrations the less disturbed one is used: on this VM the host halves
// its speed for tens of seconds now and then, and a calibration caught in that (every rate halved, the call 17 µs
// against 11) put a model measured outside it 44% over.
const profileAt = args.indexOf('--profile');
const fixedProfile = profileAt >= 0 ? args[profileAt + 1] : null;
const calibrated = new Map();
/** Calibration `i` of a part (bench-out/latency/profile-PART-i.json; the first one made is also profile.json). */
const calibrateAt = (part, i) => {
  const key = `${part}-${i}`;
  if (!calibrated.has(key)) {
    const path = join(out, `profile-${key}.json`);
    log(`calibrating (${part}, ${i === 0 ? 'before round 1' : `after round ${i}`})…`);
    mbn(['calibrate', '-o', path, '--force']);
    if (calibrated.size === 0) copyFileSync(path, join(out, 'profile.json'));
    calibrated.set(key, path);
  }
  return calibrated.get(key);
};
/** Of two calibrations, the one whose micro-benchmarks ran faster (the geometric mean of their time ratios). */
const lessDisturbed = (a, b) => {
  const [ma, mb] = [a, b].map((p) => new Map(JSON.parse(readFileSync(p, 'utf8')).measurements.map((m) => [m.name, m.ms])));
  const logs = [...ma].filter(([name, ms]) => ms > 0 && mb.get(name) > 0).map(([name, ms]) => Math.log(ms / mb.get(name)));
  const ratio = Math.exp(logs.reduce((s, x) => s + x, 0) / logs.length);
  if (Math.abs(ratio - 1) > 0.1) log(`  calibrations ${basename(a)} and ${basename(b)} differ ×${ratio.toFixed(2)}: using ${basename(ratio > 1 ? b : a)}`);
  return ratio > 1 ? b : a;
};
/**
 * The profile of round `round` of a part, called when the round has been measured (calibrating after it); round 0:
 * the calibration before the first round, for predictions made before any timing.
 */
const profileFor = (part, round) => {
  if (fixedProfile) return fixedProfile;
  if (round === 0) return calibrateAt(part, 0);
  return lessDisturbed(calibrateAt(part, round - 1), calibrateAt(part, round));
};
if (args.includes('--heldout-only')) {
  const { heldOut } = await import('./latency-heldout.mjs');
  const onlyAt = args.indexOf('--only');
  const measuredAt = args.indexOf('--measured');
  const result = await heldOut({ root, profileFor: (round) => profileFor('heldout', round), rounds: ROUNDS, log, only: onlyAt >= 0 ? args[onlyAt + 1].split(',') : null, measuredFile: measuredAt >= 0 ? args[measuredAt + 1] : null, saveTo: join(out, 'heldout-measured.json') });
  if (result) process.stdout.write(result.text);
  process.exit();
}
const predict = (path, profile) => JSON.parse(mbn(['analyze', path, '--device', profile, '--format', 'json'])).totals.latencyMs;
// The median of the timed runs, as mbn bench reports it; with --fastest, the fastest run (on a busy machine the
// one least disturbed, as calibrate keeps the fastest run of each micro-benchmark).
const fastest = args.includes('--fastest');
// Without --warmup, mbn bench's own warm-up: 0.1 s, and 2,000 calls where they are quick (a process's first calls
// run slower whatever the model; a 40 µs model timed 10 times after 3 warm-up runs measures the warm-up: 60 µs).
const benchOnce = (path, runs) => JSON.parse(mbn(['bench', path, '--runs', String(runs), '--format', 'json'])).models[0].latencyMs;
// Runs scaled to the model: at least --runs, and enough for about 0.5 s of timed runs.
const runsFor = new Map();
const measure = (path) => {
  if (!runsFor.has(path)) {
    const guess = benchOnce(path, 5).median;
    runsFor.set(path, { runs: Math.min(3000, Math.max(RUNS, Math.ceil(500 / guess))) });
  }
  const { runs } = runsFor.get(path);
  const l = benchOnce(path, runs);
  return fastest ? l.min : l.median;
};

const rows = [];
for (const c of cases) {
  // Beside a copy with external weights (its output refers to them by relative path), else in bench-out/.
  const target = join(c.path.startsWith(out) ? dirname(c.path) : out, `${basename(c.path, '.onnx')}.sep.onnx`);
  log(`${basename(c.path)}…`);
  mbn(['separate', c.path, '-o', target, '--init', 'he', '--force', '--format', 'json']);
  rows.push({ name: basename(c.path, '.onnx'), family: c.family, paths: [c.path, target], base: { predicted: NaN, measured: Infinity }, separated: { predicted: NaN, measured: Infinity } });
}
// --zoo-measured FILE: no timing, the zoo measurements an earlier run saved (bench-out/latency/zoo-measured.json),
// to judge a change to the model against the same timings.
const zooMeasuredAt = args.indexOf('--zoo-measured');
const zooSaved = zooMeasuredAt >= 0 ? JSON.parse(readFileSync(args[zooMeasuredAt + 1], 'utf8')) : null;
for (const r of zooSaved ? rows : []) {
  const m = zooSaved.models.find((x) => x.name === r.name);
  if (!m) throw new Error(`${r.name}: not in ${args[zooMeasuredAt + 1]}`);
  r.base.measured = m.base;
  r.separated.measured = m.separated;
  r.base.predicted = predict(r.paths[0], profileFor('zoo', 0));
  r.separated.predicted = predict(r.paths[1], profileFor('zoo', 0));
}
// Rounds over every model, each keeping its lowest figure (a burst of load elsewhere spoils one round, not all),
// with the prediction from that round's calibration.
if (!zooSaved) profileFor('zoo', 0);
for (let round = 1; round <= (zooSaved ? 0 : ROUNDS); round++) {
  log(`measuring, round ${round} of ${ROUNDS}…`);
  for (const r of rows) {
    for (const [i, x] of [r.base, r.separated].entries()) {
      const t = measure(r.paths[i]);
      if (t < x.measured) Object.assign(x, { measured: t, round });
    }
  }
  const profile = profileFor('zoo', round);
  for (const r of rows) for (const [i, x] of [r.base, r.separated].entries()) if (x.round === round) x.predicted = predict(r.paths[i], profile);
}
const load1 = zooSaved ? zooSaved.load1 : loadavg()[0];
if (zooSaved) load0 = zooSaved.load0;
else writeFileSync(join(out, 'zoo-measured.json'), JSON.stringify({ load0, load1, rounds: ROUNDS, models: rows.map((r) => ({ name: r.name, base: r.base.measured, separated: r.separated.measured })) }, null, 1) + '\n');

const err = (x) => x.predicted / x.measured - 1;
const fmt = (ms) => (ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const pct = (e) => `${e >= 0 ? '+' : ''}${(100 * e).toFixed(1)}%`;
const lines = [
  '| model | family | predicted | measured | error | separated: predicted | measured | error | speed-up predicted | measured | error |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
];
const errors = [];
const speedErrors = [];
for (const r of rows) {
  const sp = r.base.predicted / r.separated.predicted;
  const sm = r.base.measured / r.separated.measured;
  errors.push(Math.abs(err(r.base)), Math.abs(err(r.separated)));
  speedErrors.push(Math.abs(sp / sm - 1));
  lines.push(
    `| ${r.name} | ${r.family} | ${fmt(r.base.predicted)} ms | ${fmt(r.base.measured)} ms | ${pct(err(r.base))} | ${fmt(r.separated.predicted)} ms | ${fmt(r.separated.measured)} ms | ${pct(err(r.separated))} | ${sp.toFixed(2)}× | ${sm.toFixed(2)}× | ${pct(sp / sm - 1)} |`,
  );
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
lines.push('');
lines.push(`${rows.length} models and their separated versions (${errors.length} latencies): median |error| ${(100 * median(errors)).toFixed(1)}%, worst ${(100 * Math.max(...errors)).toFixed(1)}%; separation speed-up: median |error| ${(100 * median(speedErrors)).toFixed(1)}%, worst ${(100 * Math.max(...speedErrors)).toFixed(1)}%.`);
lines.push(`Machine: ${cpus()[0]?.model ?? '?'} × ${cpus().length} logical CPUs; 1-minute load average ${load0.toFixed(1)} at the start, ${load1.toFixed(1)} at the end; measured: ${fastest ? 'fastest' : 'median'} of at least ${RUNS} timed runs (as many as fill 0.5 s, after mbn bench's default warm-up: 0.1 s, and 2,000 calls where they are quick), lowest of ${zooSaved ? zooSaved.rounds : ROUNDS} rounds${zooSaved ? ` (measurements from ${args[zooMeasuredAt + 1]})` : fixedProfile ? '' : ', predicted from the less disturbed of the calibrations before and after that round'}.`);
process.stdout.write(lines.join('\n') + '\n');
if (!args.includes('--zoo-only')) {
  const { heldOut } = await import('./latency-heldout.mjs');
  const result = await heldOut({ root, profileFor: (round) => profileFor('heldout', round), rounds: ROUNDS, log, only: null, saveTo: join(out, 'heldout-measured.json') });
  if (result) process.stdout.write('\n' + result.text);
}

// --check: the accuracy bounds of the issue, widened for a noisy shared machine (median |error| 20% → 35%, worst
// 40% → 80%, speed-up 15% → 35% at the median); --strict: the issue's own bounds (median 20%, worst 40%, every
// model's predicted speed-up within 15% of the measured one), for a quiet machine. A benchmark, not a unit test: it
// measures this machine.
if (args.includes('--check') || args.includes('--strict')) {
  const strict = args.includes('--strict');
  const [medianBound, worstBound, speedBound] = strict ? [0.2, 0.4, 0.15] : [0.35, 0.8, 0.35];
  const speed = strict ? Math.max(...speedErrors) : median(speedErrors);
  const failures = [];
  if (median(errors) > medianBound) failures.push(`median |error| ${(100 * median(errors)).toFixed(1)}% > ${100 * medianBound}%`);
  if (Math.max(...errors) > worstBound) failures.push(`worst |error| ${(100 * Math.max(...errors)).toFixed(1)}% > ${100 * worstBound}%`);
  if (speed > speedBound) failures.push(`${strict ? 'worst' : 'median'} speed-up |error| ${(100 * speed).toFixed(1)}% > ${100 * speedBound}%`);
  for (const f of failures) log(`latency accuracy: ${f}`);
  process.exitCode = failures.length ? 1 : 0;
}
