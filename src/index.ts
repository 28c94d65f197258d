export { CkptdbError, isCkptdbError, type ErrorCode } from './errors.js';
export { defaultStorePath } from './paths.js';
export { openStore, Store, type CheckpointSummary, type CheckpointRow, type CheckpointDetails } from './store/store.js';
export type { OpenOptions } from './store/open.js';
export type { VerifyFinding, VerifyCheck } from './store/verify.js';
export type * from './store/schema.js';
export { CheckpointWriter } from './store/writer/writer.js';
export type * from './store/writer/types.js';
export {
  importCriu, exportCriu, detectCriuSource, listCriuImages, verifyCriuStorage,
  type CriuImportOptions, type CriuImportResult, type CriuExportResult, type CriuSourceKind, type CriuImage, type CriuStorageFinding,
} from './formats/criu/index.js';
export * from './formats/image/types.js';
export { IMAGE_SCHEMA_PATH } from './formats/image/schema.js';
export { checkpointRecords } from './formats/image/exporter.js';
export { exportImage } from './formats/image/format.js';
export { ImageReader, type ImageReaderOptions, type LocatedRecord } from './formats/image/reader.js';
export { importImage, type ImportResult, type ImageImportResult } from './formats/image/importer.js';
export { exportTree, type TreeExportResult } from './formats/tree/writer.js';
export { importTree } from './formats/tree/format.js';
export { TreeReader } from './formats/tree/reader.js';
export {
  EXPORT_FORMATS, IMPORT_FORMATS, exportFormat, importFormat,
  type ExportFormat, type ImportFormat, type ExportTarget, type ExportSummary,
} from './formats/registry.js';
export { QuerySession } from './query/session.js';
export { openReadOnlyDatabase } from './query/connection.js';
export { prepareReadOnly } from './query/guard.js';
export { storeKysely, openStoreKysely } from './query/kysely.js';
export { cannedQueries, cannedQuery, type CannedQuery, type CannedParam } from './query/canned.js';
export { parseParams, type Params, type ParamValue } from './query/params.js';
export type { QueryResult, Row } from './query/rows.js';
export { treePrefixes } from './query/tree.js';
export { captureProcesses } from './capture/proc/capture.js';
export { checkSelection, selectProcesses, type ProcessSelection } from './capture/proc/processes.js';
export { CAPTURE_PARTS, parseParts, type CaptureOptions, type CaptureResult, type CapturePart, type CaptureProgress } from './capture/proc/options.js';
export type { CaptureWarnings } from './capture/proc/warnings.js';
export { freezeProcesses, type Frozen, type FreezeOptions } from './capture/freeze.js';
export { FREEZE_METHODS, type FreezeMethod } from './capture/freezeMethods.js';
export { openKcmp, KcmpError, type Kcmp, type KcmpAvailability } from './capture/kcmp.js';
export { openDiff, diffCheckpoints, CheckpointDiff, diffText, DIFF_FIELDS, DIFF_KINDS, DIFF_STATUSES } from './query/diff/index.js';
export { openPostgresDiff } from './query/diff/postgres.js';
export { openReader, SqliteReader, type Reader, type ReadRows, type Dialect, type AdHocOptions } from './query/reader.js';
export { PostgresReader, postgresKysely } from './query/postgresReader.js';
export { pushCheckpoints, type PushOptions, type PushProgress, type PushedCheckpoint } from './store/postgres/push.js';
export { pullCheckpoint, type PullOptions, type PulledCheckpoint } from './store/postgres/pull.js';
export { withPulledCheckpoint } from './store/postgres/scratch.js';
export { verifyPostgres, type PostgresFinding } from './store/postgres/verify.js';
export { migratePostgres, loadPostgresMigrations } from './store/postgres/migrate.js';
export { isPostgresLocation, redactUrl } from './store/postgres/location.js';
export type * from './query/diff/index.js';
export { criuFormat, criuStorageSummary, type CriuStorageSummary, type CriuStorageCheck } from './formats/criu/index.js';
export { checkImportOptions, type ImportOptions, type ImportOption, type ImportSummary, type CountUnit } from './formats/registry.js';
export type { RecordImportOptions } from './formats/image/importer.js';
export {
  socketFamilyName, socketTypeName, socketStateName, socketStateNumber, ipProtocolName, ipAddressText, unixAddressText,
} from './store/socketNames.js';
export { fifoKey } from './store/fifoKey.js';
export type { UnixSource } from './capture/proc/sockets.js';
export { buildGraph } from './query/graph/build.js';
export { graphDot } from './query/graph/dot.js';
export { diffGraph } from './query/graph/diffGraph.js';
export { dotToSvg } from './query/graph/svg.js';
export type { CheckpointGraph, EdgeKind, GraphEdge, GraphNode, GraphOptions, Mark } from './query/graph/types.js';
export { flagsText, modeText, fdText, typeText, signalsText, stateText, TEXT_FUNCTIONS } from './store/textForms.js';
export { checkpointProcesses, restoreCheckpoint, findCriu, type CriuBinary, type CheckpointOptions, type CheckpointResult, type CheckpointProgress, type RestoreOptions, type RestoreResult, type CriuRunOptions } from './checkpoint/index.js';
export { mountStore, unmountStore, type MountOptions, type MountHandle } from './mount/server.js';
