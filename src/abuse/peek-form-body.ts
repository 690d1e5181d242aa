import type { IncomingMessage } from 'node:http';

// Reads a request body and puts it back, so the engine reads the same bytes from the same
// stream after us (readable.unshift is made for this: a consumer that must look ahead).
// The alternative, leaving the parsed body on req.body, makes the engine print "already
// parsed request body detected" and parse our copy; this way it never knows we looked.
//
// The bytes are put back before the stream emits 'end' (Node checks for a last unshift
// before it does), so the engine's own reader, its 56 kB limit and its length check all
// run as if nothing happened. A small form usually arrives with its headers: then it is
// read and put back in one synchronous step.

/**
 * The body, or undefined when it is larger than `limit` or the request ended badly (what
 * was read is put back either way; the engine then refuses the request itself).
 */
export function peekBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let listening = false;

    function finish(whole: boolean): void {
      if (listening) {
        req.off('readable', pump);
        req.off('error', failed);
        req.off('close', failed);
      }
      const body = Buffer.concat(chunks, size);
      if (size > 0) req.unshift(body);
      resolve(whole ? body : undefined);
    }

    function failed(): void {
      finish(false);
    }

    /** Reads what is buffered; true once the body is complete (or too large). */
    function drain(): boolean {
      while (req.readableLength > 0) {
        const chunk = req.read() as Buffer | null;
        if (chunk === null) break;
        chunks.push(chunk);
        size += chunk.length;
        if (size > limit) {
          finish(false);
          return true;
        }
      }
      // `complete`: the parser saw the end of the message, so every byte is in our chunks.
      if (req.complete && req.readableLength === 0) {
        finish(true);
        return true;
      }
      return false;
    }

    function pump(): void {
      drain();
    }

    if (drain()) return;
    listening = true;
    req.on('readable', pump);
    req.on('error', failed);
    req.on('close', failed);
  });
}
