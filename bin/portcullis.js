#!/usr/bin/env node
// The `portcullis` command as installed by npm: the CLI is TypeScript run through tsx,
// like the server (`npm start`), so there is no build step to forget.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
