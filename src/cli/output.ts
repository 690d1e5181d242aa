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
      for (const [label, value] of pairs) out(`${indent}${`${label}:`.padEnd(width)} ${value}`);
    },
    table(columns, rows) {
      if (json) return;
      if (rows.length === 0) {
        out('(none)');
        return;
      }
      const widths = columns.map((column, index) => Math.max(column.length, ...rows.map((row) => (row[index] ?? '').length)));
      const format = (cells: readonly string[]) =>
        cells.map((cell, index) => (index === cells.length - 1 ? cell : cell.padEnd(widths[index] ?? 0))).join('  ');
      out(format(columns.map((column) => column.toUpperCase())));
      for (const row of rows) out(format(row));
    },
  };
}

/** A list for a table cell or a field: comma separated, or a dash when empty. */
export function list(values: readonly string[]): string {
  return values.length > 0 ? values.join(', ') : '-';
}

export function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}
