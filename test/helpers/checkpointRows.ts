/**
 * Everything the store holds of one checkpoint, with row ids replaced by what names the
 * row inside the checkpoint (an object by kind and key, a task by pid, an fd by its fd
 * table's key and number, a map by its address space's key and start), so two
 * checkpoints compare row by row. Integers are read as bigints: 64-bit values compare
 * exactly. The round-trip tests ask `ckptdb diff` too; this covers what it leaves out:
 * rows no task reaches (an fd table no task holds, a file no fd holds), the
 * checkpoint's own fields, mount ids, unreadable parts and inferred sharing.
 */
import type { Store } from '../../src/index.js';

export interface CheckpointContent {
  checkpoint: Record<string, unknown>;
  tables: Record<string, Record<string, unknown>[]>;
}

const SQL: Record<string, string> = {
  shared_objects: `SELECT kind, key, refcount, inferred, attrs FROM shared_objects WHERE checkpoint_id = ? ORDER BY kind, key`,
  files: `SELECT o.key, f.type, f.path, f.pos, f.flags, f.mode, f.mnt_id, f.dev, f.inode, f.deleted,
            b.kind AS object_kind, b.key AS object_key, f.unreadable, f.attrs
          FROM files f JOIN shared_objects o ON o.id = f.id LEFT JOIN shared_objects b ON b.id = f.object_id
          WHERE f.checkpoint_id = ? ORDER BY o.key`,
  tasks: `SELECT t.pid, t.tgid, t.ppid, t.pgid, t.sid, t.state, t.comm, t.uid, t.euid, t.suid, t.fsuid, t.gid, t.egid, t.sgid, t.fsgid,
            t.cmdline, t.exe, t.cwd, t.root, t.start_time, t.sig_pending, t.sig_blocked, t.sig_ignored, t.sig_caught, t.env,
            mm.key AS mm, ft.key AS fdtable, fs.key AS fs, sh.key AS sighand, t.unreadable, t.attrs
          FROM tasks t
          LEFT JOIN shared_objects mm ON mm.id = t.mm_id LEFT JOIN shared_objects ft ON ft.id = t.fdtable_id
          LEFT JOIN shared_objects fs ON fs.id = t.fs_id LEFT JOIN shared_objects sh ON sh.id = t.sighand_id
          WHERE t.checkpoint_id = ? ORDER BY t.pid`,
  fds: `SELECT ft.key AS fdtable, d.fd, d.cloexec, f.key AS file
        FROM fds d JOIN shared_objects ft ON ft.id = d.fdtable_id JOIN shared_objects f ON f.id = d.file_id
        WHERE d.checkpoint_id = ? ORDER BY ft.key, d.fd`,
  maps: `SELECT mm.key AS mm, m.start_addr, m.end_addr, m.perms, m.pgoff, m.dev, m.inode, m.path, m.attrs
         FROM maps m JOIN shared_objects mm ON mm.id = m.mm_id WHERE m.checkpoint_id = ? ORDER BY mm.key, m.start_addr`,
  sockets: `SELECT o.key, s.family, s.sock_type, s.protocol, s.state, s.local_addr, s.local_port, s.remote_addr, s.remote_port, s.peer_ino, s.attrs
            FROM sockets s JOIN shared_objects o ON o.id = s.object_id WHERE s.checkpoint_id = ? ORDER BY o.key`,
  task_namespaces: `SELECT t.pid, n.type, o.key FROM task_namespaces n JOIN tasks t ON t.id = n.task_id JOIN shared_objects o ON o.id = n.ns_id
                    WHERE n.checkpoint_id = ? ORDER BY t.pid, n.type`,
  task_rlimits: `SELECT t.pid, r.resource, r.soft, r.hard FROM task_rlimits r JOIN tasks t ON t.id = r.task_id
                 WHERE r.checkpoint_id = ? ORDER BY t.pid, r.resource`,
};

export function checkpointContent(store: Store, id: number): CheckpointContent {
  const checkpoint = store.db.prepare('SELECT label, source, host, kernel, root_pid, frozen, started_at, meta FROM checkpoints WHERE id = ?').safeIntegers().get(id) as Record<string, unknown>;
  const tables: CheckpointContent['tables'] = {};
  for (const [table, sql] of Object.entries(SQL)) tables[table] = store.db.prepare(sql).safeIntegers().all(id) as Record<string, unknown>[];
  return { checkpoint, tables };
}

/** Row counts of every table of the store: what an import that failed must leave unchanged. */
export function storeRowCounts(store: Store): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const t of ['checkpoints', 'shared_objects', 'files', 'tasks', 'fds', 'maps', 'sockets', 'task_namespaces', 'task_rlimits']) {
    counts[t] = store.db.prepare(`SELECT count(*) FROM ${t}`).pluck().get() as number;
  }
  return counts;
}
