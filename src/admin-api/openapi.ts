import { z } from 'zod';

import { accountCreateSchema, accountUpdateSchema } from '../accounts/index.ts';
import { clientInputSchema, resourceInputSchema } from '../clients/index.ts';
import { ADMIN_API_PATH, ADMIN_SCOPES, adminApiIndicator } from './admin-resource.ts';
import { PROBLEM_TYPE } from './problem.ts';
import { keyListSchema, rotatedKeysSchema, rotateKeysSchema } from './key-routes.ts';
import { settingsViewSchema } from './settings-view.ts';
import {
  auditPageSchema,
  clientListSchema,
  clientViewSchema,
  clientWithSecretSchema,
  factorsResetSchema,
  grantListSchema,
  problemSchema,
  resourceServerListSchema,
  resourceServerViewSchema,
  rotateSecretSchema,
  sessionEndedSchema,
  sessionListSchema,
  signedOutSchema,
  unblockedSchema,
  userPageSchema,
  userViewSchema,
} from './views.ts';

// The OpenAPI 3.1 document of the admin API, generated from the very zod schemas the API
// validates with and answers by (z.toJSONSchema, JSON Schema 2020-12, OpenAPI 3.1's own
// dialect). Built once at start. test/admin-api validates the API's real answers against it.

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  // Refinements (URL rules, cross-field checks) have no JSON Schema form: the document
  // states the shape; the API's 400 names any rule broken beyond it.
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** A PATCH body: the create schema with every member optional (the result is validated whole). */
function partial(schema: JsonSchema): JsonSchema {
  const { required: _required, ...rest } = schema;
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: string) => ({ 'application/json': { schema: ref(name) } });

const problem = (description: string) => ({ description, content: { [PROBLEM_TYPE]: { schema: ref('Problem') } } });

/** The refusals every route may answer. */
const refusals = {
  '400': problem('invalid input: `errors` names each field with a JSON pointer'),
  '401': problem('no access token, or one that is invalid, expired or for another API (see WWW-Authenticate)'),
  '403': problem('the token lacks the scope (insufficient_scope)'),
  '413': problem('the body is larger than 32 kB'),
  '415': problem('a body that is not application/json, or sent with a Content-Encoding other than identity'),
  '429': problem('over the request budget (Retry-After)'),
};

const etagHeader = { ETag: { description: 'the representation\'s strong validator, for If-Match', schema: { type: 'string' } } };
const ifMatch = { name: 'If-Match', in: 'header', required: true, description: 'the ETag of the resource as last read', schema: { type: 'string' } };
const clientId = { name: 'clientId', in: 'path', required: true, schema: { type: 'string' } };
const userId = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const indicator = { name: 'indicator', in: 'path', required: true, description: 'the resource indicator, percent-encoded as one segment', schema: { type: 'string' } };
const read = [{ portcullis: [ADMIN_SCOPES.read] }];
const write = [{ portcullis: [ADMIN_SCOPES.write] }];

export function buildOpenApiDocument(issuer: string) {
  const withUser = (summary: string, operationId: string, conflict?: string) => ({
    summary,
    operationId,
    security: write,
    parameters: [userId],
    responses: {
      '200': { description: 'the user', headers: etagHeader, content: json('User') },
      '404': problem('no such user'),
      ...(conflict && { '409': problem(conflict) }),
      ...refusals,
    },
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'Portcullis admin API',
      version: '1',
      description: `Clients, resource servers, users, the audit trail, the keys and the settings of this Portcullis. Access tokens for the resource ${adminApiIndicator(issuer)}: ${ADMIN_SCOPES.read} to read, ${ADMIN_SCOPES.write} to change. Changes need If-Match.`,
    },
    servers: [{ url: `${issuer}${ADMIN_API_PATH}` }],
    components: {
      securitySchemes: {
        portcullis: {
          type: 'oauth2',
          description: 'Bearer or DPoP access tokens for the admin resource',
          flows: {
            clientCredentials: { tokenUrl: `${issuer}/token`, scopes: { [ADMIN_SCOPES.read]: 'read', [ADMIN_SCOPES.write]: 'change' } },
            authorizationCode: {
              authorizationUrl: `${issuer}/auth`,
              tokenUrl: `${issuer}/token`,
              scopes: { [ADMIN_SCOPES.read]: 'read (admin role)', [ADMIN_SCOPES.write]: 'change (admin role)' },
            },
          },
        },
      },
      schemas: {
        ClientInput: jsonSchema(clientInputSchema, 'input'),
        ClientPatch: partial(jsonSchema(clientInputSchema, 'input')),
        Client: jsonSchema(clientViewSchema, 'output'),
        ClientWithSecret: jsonSchema(clientWithSecretSchema, 'output'),
        ClientList: jsonSchema(clientListSchema, 'output'),
        RotateSecret: jsonSchema(rotateSecretSchema, 'input'),
        ResourceServerInput: jsonSchema(resourceInputSchema, 'input'),
        ResourceServerPatch: partial(jsonSchema(resourceInputSchema, 'input')),
        ResourceServer: jsonSchema(resourceServerViewSchema, 'output'),
        ResourceServerList: jsonSchema(resourceServerListSchema, 'output'),
        UserInput: jsonSchema(accountCreateSchema, 'input'),
        UserPatch: jsonSchema(accountUpdateSchema, 'input'),
        User: jsonSchema(userViewSchema, 'output'),
        UserPage: jsonSchema(userPageSchema, 'output'),
        Unblocked: jsonSchema(unblockedSchema, 'output'),
        FactorsReset: jsonSchema(factorsResetSchema, 'output'),
        GrantList: jsonSchema(grantListSchema, 'output'),
        SignedOut: jsonSchema(signedOutSchema, 'output'),
        SessionList: jsonSchema(sessionListSchema, 'output'),
        SessionEnded: jsonSchema(sessionEndedSchema, 'output'),
        AuditPage: jsonSchema(auditPageSchema, 'output'),
        Settings: jsonSchema(settingsViewSchema, 'output'),
        KeyList: jsonSchema(keyListSchema, 'output'),
        RotateKeys: jsonSchema(rotateKeysSchema, 'input'),
        RotatedKeys: jsonSchema(rotatedKeysSchema, 'output'),
        Problem: jsonSchema(problemSchema, 'output'),
      },
    },
    paths: {
      '/clients': {
        get: { summary: 'List clients', operationId: 'listClients', security: read, responses: { '200': { description: 'every client', content: json('ClientList') }, ...refusals } },
        post: {
          summary: 'Register a client',
          operationId: 'createClient',
          security: write,
          requestBody: { required: true, content: json('ClientInput') },
          responses: { '201': { description: 'the client, and its secret (shown once)', headers: etagHeader, content: json('ClientWithSecret') }, '409': problem('the client id is taken'), ...refusals },
        },
      },
      '/clients/{clientId}': {
        get: {
          summary: 'Read a client',
          operationId: 'getClient',
          security: read,
          parameters: [clientId],
          responses: { '200': { description: 'the client', headers: etagHeader, content: json('Client') }, '404': problem('no such client'), ...refusals },
        },
        patch: {
          summary: 'Change a client',
          operationId: 'updateClient',
          security: write,
          parameters: [clientId, ifMatch],
          requestBody: { required: true, content: json('ClientPatch') },
          responses: {
            '200': { description: 'the client as changed', headers: etagHeader, content: json('Client') },
            '404': problem('no such client'),
            '412': problem('the client changed since it was read'),
            '428': problem('If-Match is missing'),
            ...refusals,
          },
        },
        delete: {
          summary: 'Delete a client and end everything it holds',
          operationId: 'deleteClient',
          security: write,
          parameters: [clientId],
          responses: { '204': { description: 'the client is gone (also when it already was)' }, ...refusals },
        },
      },
      '/clients/{clientId}/secret': {
        post: {
          summary: "Rotate a client's secret",
          operationId: 'rotateClientSecret',
          security: write,
          parameters: [clientId],
          requestBody: { required: false, content: json('RotateSecret') },
          responses: { '200': { description: 'the client and its new secret (shown once)', headers: etagHeader, content: json('ClientWithSecret') }, '404': problem('no such client'), ...refusals },
        },
      },
      '/resource-servers': {
        get: {
          summary: 'List resource servers with their scopes and roles',
          operationId: 'listResourceServers',
          security: read,
          responses: { '200': { description: 'every resource server', content: json('ResourceServerList') }, ...refusals },
        },
        post: {
          summary: 'Register a resource server',
          operationId: 'createResourceServer',
          security: write,
          requestBody: { required: true, content: json('ResourceServerInput') },
          responses: { '201': { description: 'the resource server', headers: etagHeader, content: json('ResourceServer') }, '409': problem('the indicator is taken'), ...refusals },
        },
      },
      '/resource-servers/{indicator}': {
        get: {
          summary: 'Read a resource server',
          operationId: 'getResourceServer',
          security: read,
          parameters: [indicator],
          responses: { '200': { description: 'the resource server', headers: etagHeader, content: json('ResourceServer') }, '404': problem('no such resource server'), ...refusals },
        },
        patch: {
          summary: 'Change a resource server (scopes, when given, replace the whole list)',
          operationId: 'updateResourceServer',
          security: write,
          parameters: [indicator, ifMatch],
          requestBody: { required: true, content: json('ResourceServerPatch') },
          responses: {
            '200': { description: 'the resource server as changed', headers: etagHeader, content: json('ResourceServer') },
            '404': problem('no such resource server'),
            '412': problem('the resource server changed since it was read'),
            '428': problem('If-Match is missing'),
            ...refusals,
          },
        },
        delete: {
          summary: 'Delete a resource server and its scopes',
          operationId: 'deleteResourceServer',
          security: write,
          parameters: [indicator],
          responses: {
            '204': { description: 'the resource server is gone (also when it already was)' },
            '409': problem('a client is registered for it, or it is the admin API’s own'),
            ...refusals,
          },
        },
      },
      '/users': {
        get: {
          summary: 'List users, a page at a time',
          operationId: 'listUsers',
          security: read,
          parameters: [
            { name: 'search', in: 'query', required: false, description: 'part of the email or name', schema: { type: 'string', minLength: 1, maxLength: 200 } },
            { name: 'cursor', in: 'query', required: false, description: "the previous page's nextCursor", schema: { type: 'string', format: 'uuid' } },
            { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
          ],
          responses: { '200': { description: 'one page', content: json('UserPage') }, ...refusals },
        },
        post: {
          summary: 'Create a user',
          operationId: 'createUser',
          security: write,
          requestBody: { required: true, content: json('UserInput') },
          responses: { '201': { description: 'the user', headers: etagHeader, content: json('User') }, '409': problem('the email is taken'), ...refusals },
        },
      },
      '/users/{id}': {
        get: {
          summary: 'Read a user',
          operationId: 'getUser',
          security: read,
          parameters: [userId],
          responses: { '200': { description: 'the user', headers: etagHeader, content: json('User') }, '404': problem('no such user'), ...refusals },
        },
        patch: {
          summary: "Change a user's name, roles or verified flag",
          operationId: 'updateUser',
          security: write,
          parameters: [userId, ifMatch],
          requestBody: { required: true, content: json('UserPatch') },
          responses: {
            '200': { description: 'the user as changed', headers: etagHeader, content: json('User') },
            '404': problem('no such user'),
            '409': problem('the change would remove your own admin role or leave no enabled account with the admin role'),
            '412': problem('the user changed since it was read'),
            '428': problem('If-Match is missing'),
            ...refusals,
          },
        },
      },
      '/users/{id}/disable': { post: withUser('Disable a user and end every grant, token and session', 'disableUser', 'the user is you, or the last enabled account with the admin role') },
      '/users/{id}/enable': { post: withUser('Enable a user again', 'enableUser') },
      '/users/{id}/unblock': {
        post: {
          summary: "Lift the login throttle's blocks of a user",
          operationId: 'unblockUser',
          security: write,
          parameters: [userId],
          responses: { '200': { description: 'released', content: json('Unblocked') }, '404': problem('no such user'), ...refusals },
        },
      },
      '/users/{id}/reset-factors': {
        post: {
          summary: "Remove a user's authenticator and recovery codes (a lost phone), and end every session, grant and token",
          operationId: 'resetUserFactors',
          security: write,
          parameters: [userId],
          responses: { '200': { description: 'removed, and signed out everywhere', content: json('FactorsReset') }, '404': problem('no such user'), ...refusals },
        },
      },
      '/keys': {
        get: {
          summary: 'List the signing and cookie keys with their standing (never their material)',
          operationId: 'listKeys',
          security: read,
          parameters: [{ name: 'all', in: 'query', required: false, description: 'include retired keys', schema: { type: 'string', enum: ['true', 'false'], default: 'false' } }],
          responses: { '200': { description: 'the keys', content: json('KeyList') }, ...refusals },
        },
      },
      '/keys/rotate': {
        post: {
          summary: 'Announce new keys: published at once, signing after KEY_ANNOUNCE_DELAY',
          operationId: 'rotateKeys',
          security: write,
          requestBody: { required: false, content: json('RotateKeys') },
          responses: { '200': { description: 'the keys announced', content: json('RotatedKeys') }, '409': problem('a key of that kind is already announced'), ...refusals },
        },
      },
      '/settings': {
        get: {
          summary: 'The settings this instance runs with (secrets only as whether they are set)',
          operationId: 'getSettings',
          security: read,
          responses: { '200': { description: 'the settings', content: json('Settings') }, ...refusals },
        },
      },
      '/users/{id}/grants': {
        get: {
          summary: 'List what a user has granted to clients (live grants, newest first)',
          operationId: 'listUserGrants',
          security: read,
          parameters: [userId],
          responses: { '200': { description: 'the grants', content: json('GrantList') }, '404': problem('no such user'), ...refusals },
        },
      },
      '/users/{id}/grants/{grantId}': {
        delete: {
          summary: 'Revoke one grant of a user and every token issued under it',
          operationId: 'revokeUserGrant',
          security: write,
          parameters: [userId, { name: 'grantId', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '204': { description: 'the grant is gone (also when it already was, or was never this user’s: then nothing is revoked)' }, '404': problem('no such user'), ...refusals },
        },
      },
      '/users/{id}/sessions': {
        get: {
          summary: 'List the browser sessions of a user (signed-in browsers, newest first), with the clients authorized in each',
          operationId: 'listUserSessions',
          security: read,
          parameters: [userId],
          responses: { '200': { description: 'the sessions', content: json('SessionList') }, '404': problem('no such user'), ...refusals },
        },
      },
      '/users/{id}/sessions/{sessionId}': {
        delete: {
          summary: 'Sign one browser out: end the session and every grant made in it, with their tokens',
          operationId: 'endUserSession',
          security: write,
          parameters: [userId, { name: 'sessionId', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': { description: 'the session ended, and what ended with it', content: json('SessionEnded') },
            '204': { description: 'no such session of this user (already ended, or never theirs): nothing ended' },
            '404': problem('no such user'),
            ...refusals,
          },
        },
      },
      '/users/{id}/sign-out': {
        post: {
          summary: 'End every grant, token and browser session of a user (the account stays)',
          operationId: 'signOutUser',
          security: write,
          parameters: [userId],
          responses: { '200': { description: 'signed out everywhere', content: json('SignedOut') }, '404': problem('no such user'), ...refusals },
        },
      },
      '/audit-events': {
        get: {
          summary: 'Read the audit trail, newest first, a page at a time',
          operationId: 'listAuditEvents',
          security: read,
          parameters: [
            {
              name: 'type',
              in: 'query',
              required: false,
              description: 'a type (login.failure) or a family (login.*); repeat for several',
              schema: { type: 'array', maxItems: 20, items: { type: 'string', maxLength: 64, pattern: '^[a-z][a-z_]*(\\.[a-z_]+)*(\\.\\*)?$' } },
              style: 'form',
              explode: true,
            },
            { name: 'accountId', in: 'query', required: false, schema: { type: 'string', format: 'uuid' } },
            { name: 'clientId', in: 'query', required: false, schema: { type: 'string', minLength: 1, maxLength: 200 } },
            { name: 'since', in: 'query', required: false, description: 'events at or after this time', schema: { type: 'string', format: 'date-time' } },
            { name: 'until', in: 'query', required: false, description: 'events before this time', schema: { type: 'string', format: 'date-time' } },
            { name: 'cursor', in: 'query', required: false, description: "the previous page's nextCursor", schema: { type: 'string', pattern: '^[1-9][0-9]{0,18}$' } },
            { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
          ],
          responses: { '200': { description: 'one page', content: json('AuditPage') }, ...refusals },
        },
      },
    },
  };
}
