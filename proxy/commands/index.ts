/** The registry of subcommands, in the order `--help` lists them. */
import type { Command } from './command.js';
import { command as caInit } from './ca-init.js';
import { command as caBundle } from './ca-bundle.js';

export const commands: Command[] = [caInit, caBundle];
