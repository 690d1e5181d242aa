import { MAX_PASSWORD_BYTES, MIN_PASSWORD_LENGTH, type PasswordProblem } from '../accounts/index.ts';
import type { Translate } from './messages/index.ts';

/** What the page says of a password the policy refused (password-policy.ts), wherever a person chooses one. */
export function passwordProblemText(t: Translate, problem: PasswordProblem): string {
  if (problem === 'too_short') return t('reset.new.too_short', { min: MIN_PASSWORD_LENGTH });
  if (problem === 'too_long') return t('reset.new.too_long', { max: MAX_PASSWORD_BYTES });
  return t('reset.new.too_common');
}
