import { openStore } from '../../src/index.js';
import { fillKnownTree } from './knownTree.js';
import { tempStorePath } from './tmp.js';

/** A new store, removed after the test, holding the known tree as checkpoint 1 (pids from 1000). */
export function knownTreeStore(): string {
  const path = tempStorePath();
  const store = openStore(path);
  fillKnownTree(store);
  store.close();
  return path;
}
