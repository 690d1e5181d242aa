export { createInteractionRouter, GENERIC_LOGIN_ERROR } from './routes.ts';
export { createPageRenderer, type RenderPage } from './render-page.ts';
export { createRenderError, createLogoutSource } from './render-error.ts';
export { serveAssets } from './serve-assets.ts';
