import type { Command } from 'commander';

/** Registers the `lucy` verbs of this area. */
export function register(_program: Command): void {}
