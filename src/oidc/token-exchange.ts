import type { KoaContextWithOIDC } from 'oidc-provider';
import { errors } from './engine.ts';

import type { AuditSink } from '../audit/index.ts';
import { TOKEN_EXCHANGE_GRANT, type ResourceService } from '../clients/index.ts';
import type { AccessTokenVerifier, VerifiedAccessToken } from './access-token-verifier.ts';
import type { PortcullisClientFields } from './client-metadata.ts';
import type { RequestAccounts } from './request-accounts.ts';
import { permits, resourceServerInfo } from './resource-policy.ts';
import type { GrantStore } from './token-store.ts';

// Token exchange (RFC 8693): a client exchanges an access token it holds for a person for
// one to another registered resource server, under its registration's policy
// (exchangeAudiences, exchangeAct). What it may never do:
// - exchange a token it does not hold: one issued to it, or (a resource-server client)
//   one for a resource it serves;
// - reach a resource server its policy does not name, or get a scope the subject token
//   did not carry, its registration does not list, or the person's roles do not allow;
// - outlive what it came from: the new token lives no longer than the subject token, and
//   its grant is a child of the subject token's (oidc_grants.parent_id), deleted with it
//   (and when the subject token is revoked, extend-revocation.ts); a client never exchanges
//   again a token it made by an exchange (act names it), so it cannot renew itself;
// - hide who acted: `act` names the client (nested on what the subject carried), and a
//   client that impersonates keeps the subject's earlier actors;
// - loosen a binding: a sender-constrained (DPoP) subject token is refused, and so is a
//   DPoP proof (the new token would be bearer; binding exchanged tokens is not built yet).
// Refusals are RFC 8693 2.2.2's: invalid_request for a subject token that is not acceptable,
// invalid_target for a resource, invalid_scope for a scope.

export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** The grant's parameters (RFC 8693 2.1); resource and audience may repeat (to be refused as more than one). */
export const TOKEN_EXCHANGE_PARAMETERS = ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type', 'audience', 'resource', 'scope'];
export const TOKEN_EXCHANGE_DUPLICATES = ['audience', 'resource'];

type Client = NonNullable<KoaContextWithOIDC['oidc']['client']> & Partial<PortcullisClientFields>;

export interface TokenExchangeDeps {
  readonly verifier: AccessTokenVerifier;
  readonly accounts: RequestAccounts;
  readonly resources: Pick<ResourceService, 'find'>;
  readonly grants: Pick<GrantStore, 'linkExchangedGrant'>;
  readonly audit: AuditSink;
  /** Seconds a grant lives (GRANT_TTL); an exchanged one no longer than its parent. */
  readonly grantTtl: number;
}

const list = (value: unknown): string[] => (Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : typeof value === 'string' ? [value] : []);
const epochTime = () => Math.floor(Date.now() / 1000);

/** Chains no exchange of ours makes this deep are refused as if the client had acted in them. */
const MAX_ACT_DEPTH = 20;

/** Whether `clientId` acted anywhere in an `act` chain (RFC 8693 4.1: each level nests the one before). */
function actedIn(act: Readonly<Record<string, unknown>> | undefined, clientId: string): boolean {
  let level: unknown = act;
  for (let depth = 0; typeof level === 'object' && level !== null && !Array.isArray(level); depth++) {
    const entry = level as Record<string, unknown>;
    if (entry.sub === clientId || depth >= MAX_ACT_DEPTH) return true;
    level = entry.act;
  }
  return false;
}

/**
 * Whether the client holds the token: issued to it (an exchanged token too: its `act` then
 * names the client, and actedIn refuses it), or for a resource a resource-server client serves.
 */
function holds(client: Client, subject: VerifiedAccessToken): boolean {
  if (subject.clientId === client.clientId) return true;
  return client.portcullis_type === 'resource-server' && subject.aud.some((audience) => client.portcullis_resources?.includes(audience) === true);
}

export function tokenExchangeHandler(deps: TokenExchangeDeps) {
  return async function exchange(ctx: KoaContextWithOIDC): Promise<void> {
    const { provider, params } = ctx.oidc;
    const client = ctx.oidc.client as Client;
    // An empty value is an absent one (`scope=` asks for nothing in particular).
    const stringParam = (name: string) => (typeof params?.[name] === 'string' && params[name] !== '' ? params[name] : undefined);

    if (client.clientAuthMethod === 'none') throw new errors.UnauthorizedClient('a public client cannot exchange tokens');
    const subjectToken = stringParam('subject_token');
    if (!subjectToken) throw new errors.InvalidRequest('missing required parameter subject_token');
    if (stringParam('subject_token_type') !== ACCESS_TOKEN_TYPE) throw new errors.InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
    if (params?.actor_token !== undefined || params?.actor_token_type !== undefined) {
      throw new errors.InvalidRequest('actor_token is not supported: the authenticated client is the actor');
    }
    const requested = stringParam('requested_token_type');
    if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE) throw new errors.InvalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
    if (ctx.get('dpop') !== '' || client.dpopBoundAccessTokens) {
      throw new errors.InvalidRequest('exchanged tokens are bearer tokens: a DPoP proof is not accepted with this grant');
    }

    const targets = [...new Set([...list(params?.resource), ...list(params?.audience)])];
    if (targets.length !== 1) throw new errors.InvalidTarget('name exactly one resource server, as resource or audience');
    const target = targets[0]!;
    if (!client.portcullis_exchange_audiences?.includes(target)) throw new errors.InvalidTarget('the client may not exchange tokens for this resource server');
    const resource = await deps.resources.find(target);
    if (!resource) throw new errors.InvalidTarget('the client may not exchange tokens for this resource server');

    // One answer for every subject token that is not acceptable: unknown, expired, revoked,
    // another client's, a client's own (client credentials), bound to a key.
    const unacceptable = () => new errors.InvalidRequest('subject_token is not an access token this client may exchange');
    const subject = await deps.verifier.verify(subjectToken);
    if (!subject || subject.issuedTo !== 'person' || !subject.sub || !subject.grantId || subject.cnf || !holds(client, subject)) throw unacceptable();
    if (actedIn(subject.act, client.clientId)) throw new errors.InvalidRequest('the client already acted on this subject_token: exchange the token it came from');
    const [account, parent] = await Promise.all([deps.accounts.find(ctx, subject.sub), provider.Grant.find(subject.grantId)]);
    if (!account || account.disabled || !parent || parent.isExpired || parent.accountId !== subject.sub) throw unacceptable();

    // Never more than the subject token carried, the registration lists and the roles allow.
    const carried = new Set(subject.scope.split(' ').filter(Boolean));
    const asked = stringParam('scope')?.split(' ').filter(Boolean);
    const beyond = asked?.filter((scope) => !carried.has(scope)) ?? [];
    if (beyond.length > 0) throw new errors.InvalidScope('the subject token does not carry the requested scope', beyond.join(' '));
    const registered = new Set(client.portcullis_resource_scopes ?? []);
    const roles = new Set(account.roles);
    const grantable = resource.scopes.filter((scope) => carried.has(scope.name) && registered.has(scope.name) && permits(roles, scope)).map((scope) => scope.name);
    const scopes = asked ? asked.filter((scope) => grantable.includes(scope)) : grantable;
    if (asked && scopes.length < asked.length) {
      throw new errors.InvalidScope('the requested scope is not grantable at this resource server', asked.filter((scope) => !grantable.includes(scope)).join(' '));
    }
    if (scopes.length === 0) throw new errors.InvalidScope('no scope of the subject token is grantable at this resource server', [...carried].join(' '));
    const scope = scopes.join(' ');

    // No longer than the subject token, nor than its grant: an exchange never extends access.
    // The new token's own grant is a child of the subject token's: revoking that one (or its
    // expiry) takes this one and every token under it.
    const remaining = Math.min(subject.exp, parent.exp ?? Infinity) - epochTime();
    if (remaining < 1) throw unacceptable();
    const within = (ttl: number) => Math.min(ttl, remaining);
    // Every engine token takes expiresIn (BaseToken); the Grant's type leaves it out.
    const grantInit = { accountId: subject.sub, clientId: client.clientId, expiresIn: within(deps.grantTtl) };
    const grant = new provider.Grant(grantInit);
    grant.addResourceScope(target, scope);
    // Saved, then linked: should the link fail, the grant is left without a token under it.
    // A revocation racing the exchange is settled by the foreign key: it deletes the child
    // with the parent, or the link fails; a token saved after that is dead, as the verifier
    // and the engine's introspection check that its grant lives.
    const grantId = await grant.save();
    if (!(await deps.grants.linkExchangedGrant(grantId, parent.jti))) {
      await grant.destroy();
      throw unacceptable();
    }

    const act = client.portcullis_exchange_act ? { sub: client.clientId, ...(subject.act && { act: subject.act }) } : subject.act;
    const token = new provider.AccessToken({
      accountId: subject.sub,
      client,
      grantId,
      gty: TOKEN_EXCHANGE_GRANT,
      scope,
      resourceServer: new provider.ResourceServer(target, resourceServerInfo(resource, scope)),
      expiresIn: within(resource.accessTokenTtl),
      // extraTokenClaims (provider-config.ts) carries it into the token.
      ...(act && { extra: { act } }),
    });
    ctx.oidc.entity('AccessToken', token);
    const accessToken = await token.save();

    deps.audit.record({
      type: 'token.exchanged',
      actor: client.clientId,
      accountId: subject.sub,
      clientId: client.clientId,
      data: { subjectClientId: subject.clientId, subjectGrantId: subject.grantId, grantId, resource: target, scope, act: client.portcullis_exchange_act === true },
    });
    ctx.body = {
      access_token: accessToken,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: token.tokenType,
      expires_in: token.expiration,
      scope,
    };
  };
}
