/**
 * vitest globalSetup: one private PostgreSQL cluster for the whole run (each test file
 * makes its own database in it), stopped when the run ends, however it ends. Where
 * PostgreSQL is not installed, the PostgreSQL tests skip saying so; CI installs it.
 */
import type { TestProject } from 'vitest/node';
import { postgresBinDir, startCluster } from '../helpers/postgresCluster.js';
import type {} from '../helpers/postgres.js';

export default function setup(project: TestProject): () => void {
  const binDir = postgresBinDir();
  if (!binDir) {
    project.provide('postgres', { missing: 'PostgreSQL is not installed (apt-get install postgresql, or set CKPTDB_TEST_PG_BIN)' });
    return () => undefined;
  }
  const cluster = startCluster(binDir);
  project.provide('postgres', { socketDir: cluster.socketDir, binDir });
  return () => cluster.stop();
}
