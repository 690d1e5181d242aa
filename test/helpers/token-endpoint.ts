// Raw requests to the OAuth endpoints, for tests that need the exact HTTP response
// (status codes, races) rather than a client library's interpretation of it.

/** An HTTP Basic Authorization header, each part percent-encoded first (RFC 6749 §2.3.1). */
export function basicAuth(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** POSTs a form to an endpoint of the issuer as a client: with an Authorization header, no cookies. */
export function postAsClient(url: string, authorization: string, fields: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
}
