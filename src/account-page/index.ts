export { ACCOUNT_CALLBACK_PATH, ACCOUNT_PAGE_CLIENT_ID, ACCOUNT_PAGE_PATH, registerAccountPageClient } from './account-client.ts';
export { ACCOUNT_CSRF, createAccountPage, type AccountPage, type AccountPageDeps } from './account-page.ts';
export { createFirstPartySignIn, type FirstPartySignIn } from './first-party-sign-in.ts';
export { createPageSessions, PAGE_SESSION_MAX_AGE_MS, type PageSessions } from './page-session.ts';
export { createAccountRouter, signInFailed } from './routes.ts';
export { requireOwnAttempt } from './own-attempt-guard.ts';
export type { Dispatch } from './in-process-fetch.ts';
export { createEmailChangePages, type EmailChangePages } from './email-change.ts';
