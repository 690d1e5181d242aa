import { checkPassword } from '../accounts/index.ts';
import { ValidationError } from '../errors.ts';

// Passwords reach the CLI only through stdin: a piped first line, or a hidden prompt on a
// terminal. Never through an argument, which would land in shell history and `ps`.

/** Ctrl-C at a password prompt: the command stops, changing nothing. */
export class PromptCancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'PromptCancelledError';
  }
}

/** More than any acceptable password; stops a runaway pipe from filling memory. */
const MAX_STDIN_BYTES = 64 * 1024;

/** A new password: the first line of stdin when it is piped, otherwise asked twice at a hidden prompt. */
export async function readNewPassword(): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const line = await readFirstLine(stdin);
    if (line === undefined || line === '') {
      throw new ValidationError('password: expected on the first line of stdin (or run in a terminal to be asked)');
    }
    return line;
  }
  const first = await promptHidden('New password: ');
  checkPassword(first);
  const second = await promptHidden('Repeat the password: ');
  if (first !== second) throw new ValidationError('password: the two entries do not match');
  return first;
}

function readFirstLine(stream: NodeJS.ReadStream): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (error?: Error) => {
      stream.off('data', onData).off('end', onEnd).off('error', finish);
      stream.pause();
      if (error) return reject(error);
      const text = Buffer.concat(chunks).toString('utf8');
      if (text === '') return resolve(undefined);
      resolve(text.split('\n', 1)[0]?.replace(/\r$/, ''));
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (chunk.includes(0x0a)) finish();
      else if (size > MAX_STDIN_BYTES) finish(new ValidationError('password: the first line of stdin is too long'));
    };
    const onEnd = () => finish();
    stream.on('data', onData).on('end', onEnd).on('error', finish);
    stream.resume();
  });
}

/** Reads a line in raw mode, echoing nothing, so the password never shows on screen. */
function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  // Raw mode before the prompt: whatever is typed once the prompt shows is never echoed.
  stdin.setRawMode(true);
  process.stderr.write(question);
  stdin.setEncoding('utf8');
  stdin.resume();
  let value = '';
  return new Promise((resolve, reject) => {
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n' || char === '\u0004') {
          done();
          return resolve(value);
        }
        if (char === '\u0003') {
          done();
          return reject(new PromptCancelledError());
        }
        if (char === '\u007f' || char === '\b') value = [...value].slice(0, -1).join('');
        else if (char >= ' ') value += char;
      }
    };
    stdin.on('data', onData);
  });
}
