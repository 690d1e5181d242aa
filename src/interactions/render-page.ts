import { fileURLToPath } from 'node:url';

import { Eta } from 'eta';

export const VIEWS_DIR = fileURLToPath(new URL('../../views/', import.meta.url));

export type RenderPage = (view: 'login' | 'consent' | 'error' | 'logout', model: Record<string, unknown>) => string;

/**
 * Templates escape every `<%= %>` by default; `<%~ %>` (raw) is used only for markup we
 * produced ourselves (the layout body, the engine's logout form).
 */
export function createPageRenderer(options: { cache: boolean }): RenderPage {
  const eta = new Eta({ views: VIEWS_DIR, cache: options.cache, autoEscape: true, autoTrim: false });
  return (view, model) => eta.render(`./${view}`, model);
}
