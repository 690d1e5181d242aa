import type { DestinationStream } from 'pino';

// The CLI's logs are for the person at the terminal: one readable line each on stderr
// (stdout carries results). pino has already applied its redaction to what arrives here.

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warning', 50: 'error', 60: 'fatal' };
const OMITTED = new Set(['level', 'time', 'pid', 'hostname', 'service', 'msg']);

export function stderrLogDestination(): DestinationStream {
  return {
    write(line: string) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        process.stderr.write(line);
        return;
      }
      const level = LEVELS[Number(entry.level)] ?? 'log';
      const extra = Object.entries(entry)
        .filter(([key]) => !OMITTED.has(key))
        .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
      const message = typeof entry.msg === 'string' ? entry.msg : '';
      process.stderr.write(`portcullis: ${level}: ${message}${extra.length > 0 ? ` (${extra.join(' ')})` : ''}\n`);
    },
  };
}
