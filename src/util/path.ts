/**
 * The last component of a Windows or POSIX path, case kept (EDR events carry both kinds, and an
 * image name is shown as the event wrote it). Callers lower-case it where it is a key: Windows
 * file names compare without case.
 */
export function baseName(path: string): string {
  const i = Math.max(path.lastIndexOf('\\'), path.lastIndexOf('/'));
  return i >= 0 ? path.slice(i + 1) : path;
}
