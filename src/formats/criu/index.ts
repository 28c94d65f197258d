export { importCriu, type CriuImportOptions, type CriuImportResult } from './importCriu.js';
export { exportCriu, type CriuExportResult } from './exportCriu.js';
export { detectCriuSource, type CriuSourceKind } from './source.js';
export { listCriuImages, type CriuImage } from './list.js';
export { verifyCriuStorage, type CriuStorageFinding, type CriuStorageCheck } from './verify.js';
export { criuStorageSummary, type CriuStorageSummary } from './summary.js';
export { criuFormat } from './format.js';
