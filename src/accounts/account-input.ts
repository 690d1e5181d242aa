import { z } from 'zod';

import { nameSchema, roleSchema } from '../clients/index.ts';
import { toValidationError } from '../errors.ts';
import { MAX_EMAIL_LENGTH, normalizeEmail } from './normalize-email.ts';

// The validated shape of an account as an operator creates or changes it, whichever surface
// sends it: `portcullis users create`, an import file's defaults and the admin API all go
// through the account service, which parses with these. No transforms, so the admin API's
// OpenAPI document is generated from these very schemas.

const MAX_ROLES = 50;

const isEmail = (value: string) => {
  try {
    normalizeEmail(value);
    return true;
  } catch {
    return false;
  }
};

/** An email in any spelling; stored in its one normalised form (normalize-email.ts). */
export const emailSchema = z
  .string()
  .max(MAX_EMAIL_LENGTH * 2)
  .refine(isEmail, `must be a valid email address of at most ${MAX_EMAIL_LENGTH} characters`);

export const rolesSchema = z.array(roleSchema).max(MAX_ROLES, `at most ${MAX_ROLES} roles`);

export const accountCreateSchema = z
  .object({
    email: emailSchema,
    name: nameSchema,
    /** The password policy (password-policy.ts, length in bytes) is applied by the service. */
    password: z.string().optional(),
    emailVerified: z.boolean().default(false),
    roles: rolesSchema.default([]),
  })
  .strict();

/** Profile fields and roles; not the email, not the password (each has its own path). */
export const accountUpdateSchema = z
  .object({
    name: nameSchema.optional(),
    roles: rolesSchema.optional(),
    emailVerified: z.boolean().optional(),
  })
  .strict();

export type AccountCreateInput = z.input<typeof accountCreateSchema>;
export type AccountUpdateInput = z.input<typeof accountUpdateSchema>;

export function parseAccountCreate(raw: unknown): z.output<typeof accountCreateSchema> {
  const result = accountCreateSchema.safeParse(raw);
  if (!result.success) throw toValidationError(result.error);
  return result.data;
}

export function parseAccountUpdate(raw: unknown): z.output<typeof accountUpdateSchema> {
  const result = accountUpdateSchema.safeParse(raw);
  if (!result.success) throw toValidationError(result.error);
  return result.data;
}
