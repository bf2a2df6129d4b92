/** The registry of subcommands, in the order `--help` lists them. */
import type { Command } from './command.js';
import { command as start } from './start.js';
import { command as check } from './check.js';
import { command as explain } from './explain.js';
import { command as permitIssue } from './permit-issue.js';
import { command as keysGenerate } from './keys-generate.js';
import { command as caInit } from './ca-init.js';
import { command as caBundle } from './ca-bundle.js';
import { command as receiptsVerify } from './receipts-verify.js';
import { command as receiptsProof } from './receipts-proof.js';
import { command as receiptsVerifyProof } from './receipts-verify-proof.js';
import { command as receiptsMonitor } from './receipts-monitor.js';
import { command as receiptsShow } from './receipts-show.js';
import { command as arbiterStart } from './arbiter-start.js';
import { approve as arbiterApprove, deny as arbiterDeny, pending as arbiterPending } from './arbiter-approvals.js';
import { command as audit } from './audit.js';
import { command as doctor } from './doctor.js';

export const commands: Command[] = [
  start, check, explain, permitIssue, keysGenerate, caInit, caBundle,
  receiptsVerify, receiptsProof, receiptsVerifyProof, receiptsMonitor, receiptsShow,
  arbiterStart, arbiterPending, arbiterApprove, arbiterDeny, audit, doctor,
];
