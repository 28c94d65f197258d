import { CkptdbError } from '../../errors.js';

/**
 * Lays a DOT graph out as SVG in this process, with Graphviz compiled to WebAssembly
 * (@viz-js/viz): no system Graphviz needed. Loaded on first use: it is 5 MB.
 * Graphviz's warnings come back with the result instead of going to stderr.
 */
export async function dotToSvg(dot: string): Promise<string> {
  const { instance } = await import('@viz-js/viz');
  const viz = await instance();
  const result = viz.render(dot, { format: 'svg', engine: 'dot' });
  if (result.status !== 'success') {
    const why = result.errors.filter((e) => e.level === 'error').map((e) => e.message.trim()).join('; ');
    throw new CkptdbError('UNSUPPORTED', `Graphviz could not lay the graph out: ${why || 'unknown error'}`);
  }
  return result.output;
}
