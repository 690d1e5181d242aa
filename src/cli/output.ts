// How commands speak. Results go to stdout, in JSON with the global --json flag, so a
// script can pipe them; notes meant for a person go to stdout too, but to stderr in JSON
// mode so they never corrupt the JSON. Logs and errors always go to stderr.

export interface Output {
  readonly json: boolean;
  /** A line of the human-readable result (ignored in JSON mode). */
  line(text?: string): void;
  /** The machine-readable result (ignored in human mode). */
  data(value: unknown): void;
  /** Advice for a person: stdout in human mode, stderr in JSON mode. */
  note(text: string): void;
  /** Label/value pairs, labels aligned (human mode only). */
  fields(pairs: readonly (readonly [string, string])[], indent?: string): void;
  /** Rows under a header, columns aligned (human mode only). */
  table(columns: readonly string[], rows: readonly (readonly string[])[]): void;
}

export function createOutput(options: { json: boolean }): Output {
  const { json } = options;
  const out = (text: string) => void process.stdout.write(`${text}\n`);
  return {
    json,
    line(text = '') {
      if (!json) out(text);
    },
    data(value) {
      if (json) out(JSON.stringify(value, null, 2));
    },
    note(text) {
      if (json) process.stderr.write(`${text}\n`);
      else out(text);
    },
    fields(pairs, indent = '') {
      if (json) return;
      const width = Math.max(0, ...pairs.map(([label]) => label.length + 1));
      for (const [label, value] of pairs) out(`${indent}${`${label}:`.padEnd(width)} ${escapeControls(value)}`);
    },
    table(columns, rows) {
      if (json) return;
      if (rows.length === 0) {
        out('(none)');
        return;
      }
      const safeRows = rows.map((row) => row.map(escapeControls));
      const widths = columns.map((column, index) => Math.max(column.length, ...safeRows.map((row) => (row[index] ?? '').length)));
      const format = (cells: readonly string[]) =>
        cells.map((cell, index) => (index === cells.length - 1 ? cell : cell.padEnd(widths[index] ?? 0))).join('  ');
      out(format(columns.map((column) => column.toUpperCase())));
      for (const row of safeRows) out(format(row));
    },
  };
}

/**
 * What a terminal acts on instead of printing: C0 controls (ESC starts a sequence that can
 * erase or rewrite lines, CR returns to the line's start), DEL, C1 controls (U+009B is a
 * one-byte CSI), the bidirectional overrides, embeddings and isolates (they reorder what
 * follows), and the Unicode line and paragraph separators.
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const TERMINAL_CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
const TERMINAL_CONTROLS = new RegExp(TERMINAL_CONTROL.source, 'gu');

/** Text stored from outside (a user agent, a name, a client id) as a terminal may show it: controls as `\uXXXX`. */
export function escapeControls(text: string): string {
  return text.replace(TERMINAL_CONTROLS, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A value for `key=value` output: bare when it is plainly one word, else in double quotes
 * with backslashes, quotes and every control escaped, so a value can neither act on the
 * terminal nor pass for another field.
 */
export function quoteValue(text: string): string {
  if (/^[^\s"=\\]+$/u.test(text) && !TERMINAL_CONTROL.test(text)) return text;
  return `"${escapeControls(text.replace(/[\\"]/g, '\\$&').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t'))}"`;
}

/** A list for a table cell or a field: comma separated, or a dash when empty. */
export function list(values: readonly string[]): string {
  return values.length > 0 ? values.join(', ') : '-';
}

export function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}
