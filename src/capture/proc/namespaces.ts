/** /proc/TID/ns/*: the namespaces a task is in, each named by its kernel identity ('net:[4026531840]'). */
import type { NamespaceType } from '../../store/writer/types.js';
import { ProcReadError, readLink } from './procfs.js';

export const NAMESPACE_TYPES: readonly NamespaceType[] = [
  'cgroup', 'ipc', 'mnt', 'net', 'pid', 'pid_for_children', 'time', 'time_for_children', 'user', 'uts',
];

export interface TaskNamespaces {
  /** type -> identity; a type the kernel lacks is absent. */
  links: Partial<Record<NamespaceType, string>>;
  /** Set when access was denied. */
  unreadable: string | null;
  /** A link was missing: this kernel lacks the type, or the task exited. */
  sawGone: boolean;
}

export function readNamespaces(tid: number): TaskNamespaces {
  const links: TaskNamespaces['links'] = {};
  let sawGone = false;
  for (const type of NAMESPACE_TYPES) {
    try {
      links[type] = readLink(`/proc/${tid}/ns/${type}`);
    } catch (e) {
      if (!(e instanceof ProcReadError)) throw e;
      if (e.failure === 'denied') return { links: {}, unreadable: e.reason, sawGone };
      sawGone = true;
    }
  }
  return { links, unreadable: null, sawGone };
}
