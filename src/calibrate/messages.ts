/**
 * What `mbn separate --calibrate` says, as data (a `code` and the figures the sentence needs); the words are in
 * report/separate-report.ts. README "Message codes" lists the codes.
 */

/** The calibration's notes (`CalibrationSummary.notes`). */
export type CalibrationNote =
  | { code: 'random-data' }
  /** Fewer than 4 batches: the output check ran on the batches the fit used. */
  | { code: 'check-on-fit-batches' }
  | { code: 'no-onnxruntime' }
  /** `--init he`: the new weights are random, nothing was fitted. */
  | { code: 'random-init-not-fitted' }
  /** `convs` convs share their weights with others: each shared weight was fitted once, on all its uses. */
  | { code: 'shared-weights-fitted-together'; convs: number }
  /** `--refit-depthwise`: the filters of `refitted` of `layers` layers moved. */
  | { code: 'depthwise-refitted'; refitted: number; layers: number }
  | { code: 'ranks-chosen-on-data' };

/** Why a rewritten conv kept its SVD weights (`LayerFit.kept`). */
export type KeptReason =
  | { code: 'in-loop-body' }
  | { code: 'shares-weight-with-loop-body' }
  /** The --target-macs probe picks a rank per conv; the uses of one weight need one rank. */
  | { code: 'shared-weight-one-rank' }
  /** One use of the weight feeds another: their inputs depend on the weights being fitted. */
  | { code: 'shared-weight-chained' }
  | { code: 'branch-not-run' };
