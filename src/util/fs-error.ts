/**
 * The reason a file system call failed, in words, from its errno code: one table for every read and write mbn does
 * (model files, config and baseline files, outputs). Unknown codes keep Node's own message.
 */
const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  ELOOP: 'too many symbolic links',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  ENOTDIR: 'a part of the path is not a folder',
  ENAMETOOLONG: 'file name too long',
  EROFS: 'read-only file system',
  EFBIG: 'file too large',
  EIO: 'input/output error',
};

/** `action` tells what a missing entry means: the file itself when reading, its folder when writing. */
export function fsErrorReason(error: unknown, action: 'read' | 'write'): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return action === 'read' ? 'no such file' : 'the folder does not exist';
  return (code !== undefined && Object.hasOwn(REASONS, code) ? REASONS[code] : undefined) ?? (error as Error)?.message ?? String(error);
}
