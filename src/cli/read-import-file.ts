import { readFile } from 'node:fs/promises';

import YAML from 'yaml';
import { z } from 'zod';

import { normalizeEmail, rolesSchema } from '../accounts/index.ts';
import { clientInputSchema, nameSchema, resourceInputSchema } from '../clients/index.ts';
import { ValidationError } from '../errors.ts';

// An import file declares resource servers, clients and users; applying it twice changes
// nothing the second time. It holds no secrets: a user's initial password comes from an
// environment variable the file names, and a created client's secret is printed.

/** A user as declared; the name and role rules are the account service's own. */
const userSchema = z
  .object({
    email: z.string().transform((value, ctx) => {
      try {
        return normalizeEmail(value);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a valid email address of at most 254 characters' });
        return z.NEVER;
      }
    }),
    name: nameSchema,
    /** Declared in full: an existing user gets exactly these roles. */
    roles: rolesSchema.default([]),
    /** Left as it is on an existing user when absent. */
    emailVerified: z.boolean().optional(),
    /** The environment variable holding the initial password; used only when the user is created. */
    passwordEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the name of an environment variable')
      .optional(),
  })
  .strict();

export const importFileSchema = z
  .object({
    resources: z.array(resourceInputSchema).default([]),
    clients: z.array(clientInputSchema).default([]),
    users: z.array(userSchema).default([]),
  })
  .strict()
  .superRefine((file, ctx) => {
    file.clients.forEach((client, index) => {
      if (client.clientId === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['clients', index, 'clientId'],
          message: 'is required in an import file, so that applying it again updates the client instead of adding another',
        });
      }
    });
    refuseDuplicates(ctx, 'resources', 'indicator', file.resources.map((resource) => resource.indicator));
    refuseDuplicates(ctx, 'clients', 'clientId', file.clients.map((client) => client.clientId));
    refuseDuplicates(ctx, 'users', 'email', file.users.map((user) => user.email));
  });

export type ImportFile = z.output<typeof importFileSchema>;

function refuseDuplicates(ctx: z.RefinementCtx, section: string, field: string, keys: readonly (string | undefined)[]): void {
  const seen = new Map<string, number>();
  keys.forEach((key, index) => {
    if (key === undefined) return;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, index);
    else ctx.addIssue({ code: 'custom', path: [section, index, field], message: `${key} is already declared by ${section}[${first}]` });
  });
}

/** `clients[1].redirectUris.0`: the item in brackets, the field inside it dotted. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  path.forEach((segment, index) => {
    if (index === 1 && typeof segment === 'number') text += `[${segment}]`;
    else text += `${text ? '.' : ''}${String(segment)}`;
  });
  return text || '(top level)';
}

/** Reads, parses and validates the whole file; nothing is written before this succeeds. */
export async function readImportFile(file: string): Promise<ImportFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new ValidationError(`${file}: ${code === 'ENOENT' ? 'no such file' : 'cannot be read'}`);
  }
  let raw: unknown;
  try {
    // YAML 1.2 reads JSON too; JSON.parse gives the clearer message for a .json file.
    raw = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).split('\n', 1)[0];
    throw new ValidationError(`${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${reason}`);
  }
  const result = importFileSchema.safeParse(raw ?? {});
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
    throw new ValidationError(`${file}: ${problems.join('; ')}`);
  }
  return result.data;
}
