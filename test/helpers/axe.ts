import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import type { AxeResults } from 'axe-core';
import type { Page } from 'playwright-core';

// axe-core (WCAG 2.2 AA) on a page as a person sees it, in light and in dark, for the
// Chromium suites: each violation is collected by page and scheme, and the test asserts the
// list is empty at its end (one run shows every page's problems, not only the first).

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const RUN_AXE = `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } })`;
// The buttons' colours fade (a CSS transition): check the colours the scheme settles on.
const SETTLE = 'Promise.all(document.getAnimations().map((animation) => animation.finished)).then(() => true)';

/** Runs axe on `page` in both colour schemes, adding each violation to `failures`; leaves the page light. */
export async function checkAccessibility(page: Page, name: string, failures: string[]): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    await page.evaluate(SETTLE);
    if (!(await page.evaluate<boolean>("'axe' in window"))) await page.evaluate(AXE_SOURCE);
    const results = await page.evaluate<AxeResults>(RUN_AXE);
    for (const violation of results.violations) failures.push(`${name} (${colorScheme}): ${violation.id}: ${violation.help}`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}
