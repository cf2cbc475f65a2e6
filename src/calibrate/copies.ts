import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Model } from '../ir/types.js';
import { hasExternalData } from '../ir/walk.js';
import { DataFileSource } from '../onnx/external.js';
import { PieceSource, piecesLength } from '../onnx/splice.js';
import { ScratchFolder } from '../onnx/write-file.js';
import { externalLayout } from '../rewrite/relocate.js';
import type { EmittedSeparation } from '../rewrite/emit.js';

/**
 * The copies of a model that calibration hands to ONNX Runtime: the model with intermediate values exposed as extra
 * outputs, rewritten in part or not at all (built with the rewrite's byte edits, see collect.ts).
 *
 * A model that keeps all its weights inside is given to ONNX Runtime as bytes. One with external data cannot be:
 * ONNX Runtime reads external tensors from files beside the model file it loads, and refuses a data file that
 * resolves outside that model's folder (a symlink to the input's data file is refused; a hard link would be
 * accepted but needs the same file system and makes the input's data file one that onnx and mbn refuse as
 * hard-linked). So the external tensors are copied once, as the byte ranges they are (read and vetted like the
 * output's own data file), into one data file in a private scratch folder, and every copy is written there: its
 * model file points the tensors it keeps at that shared file, its new weights go to a small data file of its own,
 * and both are removed once ONNX Runtime has loaded and released it. The input and its data files are only read.
 * Memory stays bounded by the writer's chunks; the disk holds one more copy of the external data while calibrating.
 */

/** What ONNX Runtime loads: bytes, or the path of a copy in the scratch folder. */
export type CopySource = string | Uint8Array;

/** Builds a rewrite of the model for a copy: its data file is named after `outputPath`; `kept` as in emitSeparation. */
export type BuildCopy = (outputPath: string, kept?: { location: string; offsets: ReadonlyMap<number, number> }) => EmittedSeparation;

const SHARED_DATA = 'weights.data';

export class ModelCopies {
  private scratch: ScratchFolder | null = null;
  private offsets: Map<number, number> | null = null;
  private count = 0;

  /** `near`: the output path; the scratch folder goes beside it (or in the system's temporary folder if it cannot). */
  constructor(
    private readonly model: Model,
    private readonly near: string,
  ) {}

  /** A copy for ONNX Runtime; `done()` removes its files (call it once the session that loaded it is released). */
  async make(build: BuildCopy): Promise<{ source: CopySource; done: () => void }> {
    if (!hasExternalData(this.model)) {
      const built = build(this.model.path ?? 'model.onnx');
      const source = new PieceSource(built.pieces, this.model.source);
      return { source: source.view(0, piecesLength(built.pieces)).slice(), done: () => undefined };
    }
    const scratch = await this.open();
    const name = `copy${this.count++}.onnx`;
    const built = build(join(scratch.path, name), { location: SHARED_DATA, offsets: this.offsets! });
    const data = built.externalData!;
    const done = (): void => {
      scratch.remove(name);
      scratch.remove(data.location);
    };
    try {
      if (data.parts.length) {
        const source = new DataFileSource(this.model.path!, data.parts);
        try {
          await scratch.write(data.location, [{ start: 0, end: source.size }], source);
        } finally {
          source.close();
        }
      }
      return { source: await scratch.write(name, built.pieces, this.model.source), done };
    } catch (error) {
      done();
      throw error;
    }
  }

  /** Throws Interrupted once a signal has arrived while the scratch folder exists. */
  checkpoint(): void {
    this.scratch?.checkpoint();
  }

  /** Removes the scratch folder and everything in it. */
  close(): void {
    this.scratch?.close();
    this.scratch = null;
    this.offsets = null;
  }

  /** The scratch folder, made on first use with the shared copy of the input's external tensors. */
  private async open(): Promise<ScratchFolder> {
    if (this.scratch) return this.scratch;
    let scratch: ScratchFolder;
    try {
      scratch = new ScratchFolder(this.near);
    } catch {
      scratch = new ScratchFolder(join(tmpdir(), basename(this.near)));
    }
    try {
      const layout = externalLayout(this.model);
      const source = new DataFileSource(this.model.path!, layout.parts);
      try {
        await scratch.write(SHARED_DATA, [{ start: 0, end: source.size }], source);
      } finally {
        source.close();
      }
      this.offsets = layout.offsets;
    } catch (error) {
      scratch.close();
      throw error;
    }
    this.scratch = scratch;
    return scratch;
  }
}
