/**
 * The branch drawing of `pstree` for rows that come depth first (as the
 * process_tree query returns them): each row's prefix, from `├─ ` and `└─ ` for the
 * row itself and `│  ` or blanks for each of its ancestors.
 */
export function treePrefixes(depths: readonly number[]): string[] {
  // Walking backwards, a row is the last of its siblings when no row of its depth
  // came after it before its parent did.
  const last: boolean[] = new Array<boolean>(depths.length);
  const seen: boolean[] = [];
  for (let i = depths.length - 1; i >= 0; i--) {
    const d = depths[i]!;
    last[i] = !seen[d];
    seen[d] = true;
    seen.length = d + 1;
  }
  const prefixes: string[] = [];
  const open: boolean[] = []; // open[d]: the ancestor at depth d has siblings still to come
  depths.forEach((d, i) => {
    open.length = d;
    let prefix = '';
    for (let a = 1; a < d; a++) prefix += open[a] ? '│  ' : '   ';
    if (d > 0) prefix += last[i] ? '└─ ' : '├─ ';
    open[d] = !last[i];
    prefixes.push(prefix);
  });
  return prefixes;
}
