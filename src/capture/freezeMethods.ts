/**
 * The ways --freeze can hold processes (freeze.ts does it). Apart from the freezer so
 * that the CLI can offer them without loading it: its ptrace binding is a native addon.
 */
export type FreezeMethod = 'cgroup' | 'ptrace' | 'sigstop';
export const FREEZE_METHODS: readonly FreezeMethod[] = ['cgroup', 'ptrace', 'sigstop'];
