export { checkpointProcesses, treeRoot } from './checkpoint.js';
export { restoreCheckpoint } from './restore.js';
export { findCriu, type CriuBinary } from './criuBinary.js';
export type * from './types.js';
