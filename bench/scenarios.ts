import { clientCredentials, ensureChains, flood, get, introspect, jwksPath, login, mintOpaqueTokens, mix, refresh, type Operation } from './lib/ops.ts';
import type { Target } from './lib/target.ts';

// What `npm run bench` measures. Each load scenario runs its operation against a floor
// and a subject (Portcullis unless said otherwise), alternating, over several rounds; see
// bench/README.md for how each figure is taken. Targets are issue 10's (DESIGN.md).

export type ServerName = 'node:http' | 'koa' | 'engine' | 'portcullis' | 'portcullis-limited';

export interface PrepareContext {
  /** Refresh chains to keep ready (independent grants, one per login). */
  readonly chains: number;
}

export interface LoadScenario {
  readonly kind: 'load';
  readonly id: string;
  readonly title: string;
  /** What one operation is, for "CPU per ...". */
  readonly unit: 'request' | 'login' | 'operation';
  readonly floor: ServerName;
  readonly subject: ServerName;
  readonly operation: Operation;
  /** Once per target, before the warm-up. */
  readonly prepare?: (target: Target, context: PrepareContext) => Promise<void>;
  /** The status that counts as the expected answer, per side (default "200"). */
  readonly expect?: { readonly floor?: string; readonly subject?: string };
  /** Traffic run beside the load at a fixed rate; its latency is reported instead of the half-capacity run. */
  readonly beside?: { readonly title: string; readonly operation: Operation; readonly rate: number };
  /** Subject CPU per operation at most `ratio` times the floor's (or the argon2id verification's). */
  readonly target?: { readonly ratio: number; readonly of: 'floor' | 'argon2' };
}

export interface MemoryScenario {
  readonly kind: 'memory';
  readonly id: string;
  readonly title: string;
  readonly floor: ServerName;
  readonly subject: ServerName;
  /** Where the subject keeps grants: its rows are copied to reach the count (bench/lib/postgres.ts). */
  readonly grantsTable: string;
  /** Traffic run after the grants are added, so the server is measured at work, not asleep. */
  readonly operation: Operation;
  readonly prepare: (target: Target, context: PrepareContext) => Promise<void>;
  /** Idle RSS at most this many bytes. */
  readonly idleTarget: number;
}

export type Scenario = LoadScenario | MemoryScenario;

const chains = (target: Target, context: PrepareContext) => ensureChains(target, context.chains);
const load = (scenario: Omit<LoadScenario, 'kind' | 'unit' | 'floor' | 'subject'> & Partial<Pick<LoadScenario, 'unit' | 'floor' | 'subject'>>): LoadScenario => ({
  kind: 'load',
  unit: 'request',
  floor: 'engine',
  subject: 'portcullis',
  ...scenario,
});

// Keycloak's sizing guide, per vCPU and second: 15 password logins, 120 client-credentials
// grants, 120 refreshes.
const keycloakMix = mix([
  [15, login],
  [120, clientCredentials('jwt')],
  [120, refresh],
]);

let legitimate = 0;
/** A well-behaved service spread over five addresses, within every budget. */
const legitimateService = clientCredentials('jwt', () => ({ 'x-forwarded-for': `192.0.2.${(legitimate++ % 5) + 1}` }));

export const SCENARIOS: readonly Scenario[] = [
  load({ id: 'hello', title: 'Koa hello world (in the Portcullis columns) against node:http', floor: 'node:http', subject: 'koa', operation: get('/') }),
  load({ id: 'discovery', title: 'discovery GET', operation: get('/.well-known/openid-configuration'), target: { ratio: 1.5, of: 'floor' } }),
  load({ id: 'jwks', title: 'JWKS GET', operation: get(jwksPath), target: { ratio: 1.5, of: 'floor' } }),
  load({ id: 'cc-jwt', title: 'client credentials, JWT access token', operation: clientCredentials('jwt'), target: { ratio: 1.33, of: 'floor' } }),
  load({ id: 'cc-opaque', title: 'client credentials, opaque token', operation: clientCredentials('opaque'), target: { ratio: 2, of: 'floor' } }),
  load({ id: 'introspection', title: 'introspection of an opaque token', operation: introspect, prepare: (target) => mintOpaqueTokens(target), target: { ratio: 2, of: 'floor' } }),
  load({ id: 'refresh', title: 'refresh with rotation', operation: refresh, prepare: chains, target: { ratio: 2.5, of: 'floor' } }),
  load({
    id: 'login',
    title: 'browser login: authorize, login (argon2id), consent, code, token',
    unit: 'login',
    operation: login,
    target: { ratio: 1.6, of: 'argon2' },
  }),
  load({
    id: 'flood',
    title: '429 flood from one address (wrong client secret)',
    floor: 'koa',
    subject: 'portcullis-limited',
    operation: flood('203.0.113.66'),
    expect: { subject: '429' },
    beside: { title: 'client credentials at 10/s from other addresses', operation: legitimateService, rate: 10 },
    target: { ratio: 2, of: 'floor' },
  }),
  load({ id: 'mix', title: "Keycloak's sizing mix, logins : client credentials : refreshes = 15 : 120 : 120", unit: 'operation', operation: keycloakMix, prepare: chains }),
  {
    kind: 'memory',
    id: 'memory',
    title: 'resident memory, idle and with live grants',
    floor: 'engine',
    subject: 'portcullis',
    grantsTable: 'oidc_grants',
    operation: keycloakMix,
    prepare: chains,
    idleTarget: 150 * 2 ** 20,
  },
];
