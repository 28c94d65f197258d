export { CkptdbError, isCkptdbError, type ErrorCode } from './errors.js';
export { defaultStorePath } from './paths.js';
export { openStore, Store, type CheckpointSummary, type CheckpointRow, type CheckpointDetails } from './store/store.js';
export type { OpenOptions } from './store/open.js';
export type { VerifyFinding, VerifyCheck } from './store/verify.js';
export type * from './store/schema.js';
export { CheckpointWriter } from './capture/writer.js';
export type * from './capture/types.js';
export {
  importCriu, exportCriu, detectCriuSource, listCriuImages, verifyCriuStorage,
  type CriuImportOptions, type CriuImportResult, type CriuExportResult, type CriuSourceKind, type CriuImage, type CriuStorageFinding,
} from './formats/criu/index.js';
