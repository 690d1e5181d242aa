export { createInteractionRouter, type InteractionDeps } from './routes.ts';
export { createPageRenderer, type RenderPage } from './render-page.ts';
export { createErrorPage, createRenderError } from './render-error.ts';
export { createLogoutSource, createPostLogoutSuccessSource } from './logout-pages.ts';
export { pageFormTargets } from './client-display.ts';
export { loadAssets, serveAssets, type Assets } from './serve-assets.ts';
export { answerUnknownPaths, landingPage } from './landing.ts';
