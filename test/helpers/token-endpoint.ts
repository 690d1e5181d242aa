// Raw requests to the OAuth endpoints, for tests that need the exact HTTP response
// (status codes, races) rather than a client library's interpretation of it.

export function basicAuth(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** POSTs a form to an endpoint of the issuer, authenticated with HTTP Basic. */
export function postForm(url: string, authorization: string, fields: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
}
