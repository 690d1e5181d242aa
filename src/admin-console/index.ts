export { ADMIN_CONSOLE_CALLBACK_PATH, ADMIN_CONSOLE_CLIENT_ID, ADMIN_CONSOLE_PATH, adminConsoleRegistration, registerAdminConsoleClient } from './console-client.ts';
export { createAdminConsole, type AdminConsoleDeps } from './admin-console.ts';
