/**
 * YAML text to positioned nodes. Every problem found while reading a document (syntax
 * errors included) is collected with its `file:line:col`, so one `check` run reports all
 * of them, not just the first.
 */
import path from 'node:path';
import { LineCounter, parseDocument, isMap, isScalar, isSeq, type Node, type Pair } from 'yaml';
import { ConfigError, type ConfigProblem } from './config-error.js';
import type { SourcePos } from './types.js';

/** A parsed YAML document and the problems found in it so far. */
export class YamlSource {
  readonly problems: ConfigProblem[] = [];
  /** The document's root node, or null for an empty document or a fatal syntax error. */
  readonly root: Node | null;
  private readonly lines = new LineCounter();

  constructor(readonly file: string, text: string) {
    const doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
    for (const e of doc.errors) this.problemAt(e.pos[0], firstLine(e.message));
    // A document with syntax errors is not read further: its tree may be partial, and the
    // errors above already say where to look.
    this.root = doc.errors.length > 0 ? null : ((doc.contents as Node | null) ?? null);
  }

  /** Position of a node (its first character); the file start when there is no node. */
  pos(node: Node | null | undefined): SourcePos {
    const offset = node?.range?.[0] ?? 0;
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line: Math.max(line, 1), col: Math.max(col, 1) };
  }

  /** Records a problem at a node. */
  problem(node: Node | null | undefined, message: string): void {
    const p = this.pos(node);
    this.problems.push({ file: p.file, line: p.line, col: p.col, message });
  }

  private problemAt(offset: number, message: string): void {
    const { line, col } = this.lines.linePos(offset);
    this.problems.push({ file: this.file, line: Math.max(line, 1), col: Math.max(col, 1), message });
  }

  /** Throws one ConfigError with every problem recorded, if there is any. */
  throwIfProblems(): void {
    // Reported in file order (a stable sort keeps discovery order within one position).
    const sorted = [...this.problems].sort((a, b) => a.line - b.line || a.col - b.col);
    if (sorted.length > 0) throw new ConfigError(sorted);
  }

  /**
   * Reads a mapping whose keys must all be in `allowed`. Unknown keys are reported at the
   * key. Returns undefined (after reporting) when the node is not a mapping.
   */
  map(node: Node | null | undefined, allowed: readonly string[], what: string, parent?: Node | null): Fields | undefined {
    if (!isMap(node)) {
      this.problem(node ?? parent, `${what} must be a mapping`);
      return undefined;
    }
    const fields = new Fields(this, node, what);
    for (const pair of node.items as Pair<Node, Node | null>[]) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (key === undefined || !allowed.includes(key)) {
        this.problem(pair.key, `unknown key ${JSON.stringify(key ?? '?')} in ${what}${allowedHint(allowed)}`);
        continue;
      }
      fields.add(key, pair.key, pair.value);
    }
    return fields;
  }

  /** Reads a mapping with free-form keys (a name → value table) as its entries, in order. */
  entries(node: Node | null | undefined, what: string, parent?: Node | null): { key: string; keyNode: Node; value: Node | null }[] | undefined {
    if (!isMap(node)) {
      this.problem(node ?? parent, `${what} must be a mapping`);
      return undefined;
    }
    return (node.items as Pair<Node, Node | null>[]).map((p) => ({ key: String(scalarValue(p.key) ?? ''), keyNode: p.key, value: p.value }));
  }
}

/** The known keys of one mapping, each with its key node and value node. */
export class Fields {
  private readonly entries = new Map<string, { key: Node; value: Node | null }>();

  constructor(readonly src: YamlSource, readonly node: Node, readonly what: string) {}

  add(name: string, key: Node, value: Node | null): void {
    this.entries.set(name, { key, value });
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The value node of a key (null for an explicit `key:` with no value), or undefined if absent. */
  value(name: string): Node | null | undefined {
    return this.entries.get(name)?.value;
  }

  /** Where to point at a key's value: the value itself, or its key when the value is empty. */
  at(name: string): Node {
    const e = this.entries.get(name);
    return e?.value ?? e?.key ?? this.node;
  }

  /** Reports a problem at a key's value (or at the mapping when the key is absent). */
  problem(name: string, message: string): void {
    this.src.problem(this.at(name), message);
  }

  /** Reports that a required key is missing (at the mapping). */
  requires(name: string): boolean {
    if (this.entries.has(name) && this.entries.get(name)?.value != null) return true;
    this.src.problem(this.entries.get(name)?.key ?? this.node, `${this.what}: "${name}" is required`);
    return false;
  }
}

/** A scalar node's value, or undefined for anything else. */
export function scalarValue(node: Node | null | undefined): unknown {
  return isScalar(node) ? node.value : undefined;
}

/** The items of a sequence node, or undefined when it is not a sequence. */
export function seqItems(node: Node | null | undefined): (Node | null)[] | undefined {
  return isSeq(node) ? (node.items as (Node | null)[]) : undefined;
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '').trim();
}

function allowedHint(allowed: readonly string[]): string {
  return allowed.length > 0 && allowed.length <= 16 ? ` (known: ${allowed.join(', ')})` : '';
}

/**
 * A config file opened for validation: its source (problems collect there), the top-level
 * mapping with only `topKeys` allowed, `section(name, keys)` for one of its mappings (undefined
 * when absent or null), and `abs()` resolving a path relative to the file (its `baseDir`). Shared by the gate's
 * and the arbiter's config loaders. Throws ConfigError when the text is not YAML.
 */
export function openConfigDocument(text: string, file: string, topKeys: readonly string[]) {
  const src = new YamlSource(file, text);
  const baseDir = path.dirname(path.resolve(file));
  const abs = (p: string): string => path.resolve(baseDir, p);
  src.throwIfProblems();
  const root = src.root;
  // An empty file is a document of defaults; each loader says what it requires.
  const top = root === null ? undefined : src.map(root, topKeys, 'config');
  const section = (name: string, keys: readonly string[]): Fields | undefined => {
    if (!top || !top.has(name) || top.value(name) == null) return undefined;
    return src.map(top.value(name), keys, name, top.at(name));
  };
  return { src, root, top, section, abs, baseDir };
}
