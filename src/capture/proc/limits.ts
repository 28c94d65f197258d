/** /proc/PID/limits: the resource limits of a process (shared by its threads). */
import type { RlimitInput } from '../../store/writer/types.js';
import { decimal64 } from './numbers.js';

const RESOURCES: Record<string, string> = {
  'Max cpu time': 'cpu',
  'Max file size': 'fsize',
  'Max data size': 'data',
  'Max stack size': 'stack',
  'Max core file size': 'core',
  'Max resident set': 'rss',
  'Max processes': 'nproc',
  'Max open files': 'nofile',
  'Max locked memory': 'memlock',
  'Max address space': 'as',
  'Max file locks': 'locks',
  'Max pending signals': 'sigpending',
  'Max msgqueue size': 'msgqueue',
  'Max nice priority': 'nice',
  'Max realtime priority': 'rtprio',
  'Max realtime timeout': 'rttime',
};

function value(text: string): number | bigint | null {
  return text === 'unlimited' ? null : decimal64(text);
}

export function parseLimits(text: string): RlimitInput[] {
  const out: RlimitInput[] = [];
  for (const line of text.split('\n')) {
    // 'Max open files            1024                 524288               files'
    const m = /^(Max [a-z ]+?)\s{2,}(\S+)\s+(\S+)/.exec(line);
    const resource = m && RESOURCES[m[1]!];
    if (resource) out.push({ resource, soft: value(m[2]!), hard: value(m[3]!) });
  }
  return out;
}
