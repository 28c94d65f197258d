import { statSync } from 'node:fs';

/** Whether path is a directory; false for what does not exist or cannot be read. */
export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
