import type Provider from 'oidc-provider';

import { countIntrospections } from './count-introspections.ts';
import { observeDeviceAuthorizations } from './device.ts';
import { logServerErrors } from './errors.ts';
import { observeGrants } from './grant.ts';
import { guardListeners, type EventDeps } from './listener.ts';
import { observeLogouts } from './logout.ts';

// Every engine event Portcullis listens to is registered here, one file per family: what
// the engine tells us, turned into audit events, metrics and logs. (Logins, consent,
// single-token revocation and the grace window are recorded where they are decided:
// interactions/, refresh-rotation.ts, extend-introspection.ts, extend-revocation.ts. OAuth
// errors are counted from the final response, http/response-error.ts: the engine's error
// events fire before our extensions may still answer successfully.)


/**
 * Registers every listener on the engine. Its introspection counter is middleware: call
 * this before adding the extensions, so that it is outermost and sees their answers.
 */
export function observeProvider(provider: Provider, deps: EventDeps): void {
  const guard = guardListeners(deps.logger);
  observeGrants(provider, deps, guard);
  observeLogouts(provider, deps, guard);
  observeDeviceAuthorizations(provider, deps, guard);
  logServerErrors(provider, deps, guard);
  if (deps.metrics) countIntrospections(provider, deps.metrics);
}
