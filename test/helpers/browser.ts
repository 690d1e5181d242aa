import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

// A real browser for the end-to-end tests of the pages: Debian's Chromium driven by
// playwright-core (which cannot download browsers here), and a tiny relying party the
// browser is redirected to.

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** ENVIRONMENT.md's flags: headless, no sandbox (root), and nothing that phones home. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Each launch gets a fresh temporary profile (playwright's own user data dir). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
}

export interface CspViolation {
  readonly page: string;
  readonly text: string;
}

/**
 * A browser context (one person's browser: own cookies) that records every CSP violation
 * Chromium reports, so a test can assert the pages never trip their own policy.
 */
export async function newPerson(
  browser: Browser,
  options: { violations?: CspViolation[]; context?: Parameters<Browser['newContext']>[0] } = {},
): Promise<{ context: BrowserContext; page: Page; violations: CspViolation[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options.context });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(15_000);
  const violations = options.violations ?? [];
  const page = await context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push({ page: page.url(), text: message.text() });
  });
  return { context, page, violations };
}

/**
 * A virtual platform authenticator in this browser (the DevTools protocol's WebAuthn
 * domain): resident keys and user verification, as a phone or laptop has, answering at once.
 */
export async function addVirtualAuthenticator(context: BrowserContext, page: Page): Promise<void> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
}

export interface Arrival {
  readonly method: string;
  readonly url: URL;
  readonly body: string;
}

export interface ClientApp {
  /** e.g. http://localhost:41234 — a different site from the issuer's 127.0.0.1. */
  readonly origin: string;
  readonly arrivals: Arrival[];
  close(): Promise<void>;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => resolve(body));
    request.on('error', reject);
  });
}

/**
 * The relying party's web server: records every request the browser makes to it
 * (redirects with a code, form_post bodies, post-logout returns) and shows a plain page.
 */
export async function startClientApp(): Promise<ClientApp> {
  const arrivals: Arrival[] = [];
  const server: Server = createServer((request, response) => {
    void readBody(request).then((body) => {
      const url = new URL(request.url ?? '/', `http://${request.headers.host ?? 'localhost'}`);
      if (url.pathname !== '/favicon.ico') arrivals.push({ method: request.method ?? 'GET', url, body });
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end('<!doctype html><title>Example app</title><h1>Example app</h1>');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://localhost:${port}`,
    arrivals,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
