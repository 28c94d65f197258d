export { openDiff, diffCheckpoints, CheckpointDiff } from './engine.js';
export { diffText } from './text.js';
export { FIELDS as DIFF_FIELDS } from './fields.js';
export { DIFF_KINDS, DIFF_STATUSES } from './types.js';
export type * from './types.js';
