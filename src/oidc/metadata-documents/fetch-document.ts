import { Agent, request } from 'undici';

import { guardedLookup, isAddressLiteral, isPublicAddress, NOT_PUBLIC } from './address-guard.ts';

// One GET of a metadata document, within the draft's limits (section 6 and 7): the body
// counted as it streams and the connection dropped past MAX_BYTES, one deadline for the
// whole exchange, no redirect followed (a 3xx is a refusal: the document must live at its
// own URL), a 200 with a JSON media type only. Every way it fails is a refusal as data,
// never a thrown error: the caller answers invalid_client with the reason.

/** The draft suggests 5 KB; a document of redirect URIs and a name is far smaller. */
export const MAX_BYTES = 5 * 1024;
/** The whole fetch, connection to last byte: the person's authorization request waits for it. */
export const FETCH_TIMEOUT_MS = 3000;

export type FetchedDocument =
  | { readonly ok: true; readonly status: number; readonly headers: Readonly<Record<string, string | string[] | undefined>>; readonly body: Buffer }
  /** `reason` is for the requester; `detail`, when there is more to say, for the audit only. */
  | { readonly ok: false; readonly reason: string; readonly detail?: string };

export type DocumentFetcher = (url: string) => Promise<FetchedDocument>;

const JSON_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json\s*(?:;|$)/i;

export interface FetcherOptions {
  /** CLIENT_ID_METADATA_ALLOW_PRIVATE_HOSTS: private and loopback addresses too. */
  readonly allowPrivateHosts: boolean;
  readonly maxBytes?: number;
  readonly timeoutMs?: number;
}

/** The reason a fetch failed, in words for the error_description: never the error's stack. */
function reasonOf(error: unknown, timeoutMs: number): { reason: string; detail?: string } {
  const code = (error as { code?: unknown } | null)?.code;
  const name = (error as { name?: unknown } | null)?.name;
  if (code === 'ADDRESS_REFUSED') return { reason: NOT_PUBLIC, detail: (error as Error).message };
  const cause = (error as { cause?: unknown } | null)?.cause;
  if ((cause as { code?: unknown } | null)?.code === 'ADDRESS_REFUSED') return { reason: NOT_PUBLIC, detail: (cause as Error).message };
  if (name === 'TimeoutError' || name === 'AbortError' || code === 'UND_ERR_ABORTED' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return { reason: `the document did not arrive within ${timeoutMs / 1000} s` };
  }
  // The same words as a refused address: whether an internal name exists is not for the requester to learn.
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { reason: NOT_PUBLIC, detail: `the host does not resolve (${String(code)})` };
  return { reason: 'the document could not be fetched' };
}

/**
 * Why a URL's host, an address literal, is not fetched from: the connection would make no
 * look-up for the guard to judge. Needs no network, so it is asked before any budget is spent.
 */
export function addressLiteralProblem(url: string, allowPrivateHosts: boolean): { reason: string; detail: string } | undefined {
  const { hostname } = new URL(url);
  if (isAddressLiteral(hostname) && !allowPrivateHosts && !isPublicAddress(hostname)) return { reason: NOT_PUBLIC, detail: `${hostname} is not a public address` };
  return undefined;
}

export function createDocumentFetcher(options: FetcherOptions): DocumentFetcher & { close(): Promise<void> } {
  const maxBytes = options.maxBytes ?? MAX_BYTES;
  const timeoutMs = options.timeoutMs ?? FETCH_TIMEOUT_MS;
  // One pool for every document: the guard is its connections' own look-up.
  const agent = new Agent({
    connect: { lookup: guardedLookup(options.allowPrivateHosts), timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    // Few documents, each fetched rarely: no connection kept waiting for the next.
    keepAliveTimeout: 1000,
  });

  const fetchDocument = async (url: string): Promise<FetchedDocument> => {
    // An address in the URL is connected to without a look-up: judged here instead (and by
    // the caller before it spends any budget).
    const literal = addressLiteralProblem(url, options.allowPrivateHosts);
    if (literal) return { ok: false, ...literal };
    // Cleared once the fetch is over: a signal that fired later would fail a finished request.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new DOMException('the deadline passed', 'TimeoutError')), timeoutMs);
    const { signal } = deadline;
    try {
      const response = await request(url, {
        method: 'GET',
        dispatcher: agent,
        signal,
        headers: { accept: 'application/json' },
      });
      // Destroying an unread body emits an error of its own: nobody else is listening for it.
      response.body.on('error', () => {});
      const drop = () => response.body.destroy();
      if (response.statusCode >= 300 && response.statusCode < 400) {
        drop();
        return { ok: false, reason: `the document answered a redirect (${response.statusCode}); redirects are not followed` };
      }
      if (response.statusCode !== 200) {
        drop();
        return { ok: false, reason: `the document answered ${response.statusCode}` };
      }
      const type = response.headers['content-type'];
      if (typeof type !== 'string' || !JSON_TYPE.test(type)) {
        drop();
        return { ok: false, reason: 'the document is not JSON (Content-Type application/json)' };
      }
      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        drop();
        return { ok: false, reason: `the document is larger than ${maxBytes} bytes` };
      }
      // Counted as it arrives: a server that sends no length, or lies about it, is cut off at the limit.
      const chunks: Buffer[] = [];
      let received = 0;
      for await (const chunk of response.body) {
        received += (chunk as Buffer).length;
        if (received > maxBytes) {
          drop();
          return { ok: false, reason: `the document is larger than ${maxBytes} bytes` };
        }
        chunks.push(chunk as Buffer);
      }
      return { ok: true, status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks) };
    } catch (error) {
      return { ok: false, ...(signal.aborted ? reasonOf(signal.reason, timeoutMs) : reasonOf(error, timeoutMs)) };
    } finally {
      clearTimeout(timer);
    }
  };
  return Object.assign(fetchDocument, { close: () => agent.close() });
}
