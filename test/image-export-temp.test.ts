/**
 * The store keeps its TEMP storage in memory; an export works out its order in TEMP
 * tables large enough to want the disk, so it switches the setting while it runs and
 * gives it back after, whether it finished or stopped early.
 */
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';
import { restoreOrderRecords } from '../src/formats/image/exporter.js';
import { shapesCheckpoint } from './fixtures/shapes.js';
import { tempStorePath } from './helpers/tmp.js';

const FILE = 1;
const MEMORY = 2;

describe('export and TEMP storage', () => {
  it('keeps its order tables on disk while it runs and gives the store its setting back', () => {
    const store = openStore(tempStorePath());
    try {
      const id = shapesCheckpoint(store);
      const tempStore = () => store.db.pragma('temp_store', { simple: true });
      expect(tempStore()).toBe(MEMORY);
      let during: unknown = null;
      let records = 0;
      for (const r of restoreOrderRecords(store, id)) {
        expect(r).toBeTruthy();
        during ??= tempStore();
        records++;
      }
      expect(records).toBeGreaterThan(10);
      expect(during).toBe(FILE);
      expect(tempStore()).toBe(MEMORY);
      // stopped after its first record
      for (const r of restoreOrderRecords(store, id)) {
        expect(r).toBeTruthy();
        break;
      }
      expect(tempStore()).toBe(MEMORY);
      expect(store.db.inTransaction).toBe(false);
    } finally {
      store.close();
    }
  });
});
