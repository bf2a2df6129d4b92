/** The registry of subcommands, in the order `--help` lists them. */
import type { Command } from './command.js';
import { command as check } from './check.js';
import { command as caInit } from './ca-init.js';
import { command as caBundle } from './ca-bundle.js';
import { command as receiptsVerify } from './receipts-verify.js';
import { command as receiptsShow } from './receipts-show.js';

export const commands: Command[] = [check, caInit, caBundle, receiptsVerify, receiptsShow];
