import { LRUCache } from 'lru-cache';

import type { ActedBy, AuditSink } from '../../audit/index.ts';
import type { ClientRecord, ResourceService } from '../../clients/index.ts';
import type { RegistrationPolicy } from '../../config/index.ts';
import { errors } from '../engine.ts';
import { offeredScopes } from '../registration-policy.ts';
import { cacheLifetimeMs } from './cache-lifetime.ts';
import { clientIdUrlProblem, looksLikeUrlClientId } from './client-id-url.ts';
import { toDocumentClient } from './document-client.ts';
import { createFetchBudget, type BudgetRefusal, type FetchBudget } from './fetch-budget.ts';
import { addressLiteralProblem, createDocumentFetcher, type DocumentFetcher } from './fetch-document.ts';

// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document), as the MCP
// authorization specification uses them: a client_id that is an https URL is the client's
// own description, fetched from that URL when the engine first asks for the client. The
// engine then builds and validates the client as it does a registered one (the Client
// adapter's find, provider-config.ts); nothing is stored in the registry. Here:
// - the URL is checked against the draft's rules, and an address literal against the SSRF
//   guard, before anything is fetched or any budget spent;
// - a document is fetched at most once per its cache lifetime (cache-lifetime.ts), one
//   fetch for concurrent requests naming it, within a budget per requester, per host and in
//   all (fetch-budget.ts), through the SSRF guard (fetch-document.ts, address-guard.ts);
//   when the budget refuses and an expired copy is at hand, the copy is used (stale): a
//   client that worked is not locked out by whoever spent the budget;
// - a refusal is remembered for FAILURE_SECONDS: asking again costs no fetch, so naming a
//   bad or slow URL over and over cannot make us fetch in a loop;
// - every refusal is the engine's invalid_client with the reason (never a 5xx, even for
//   what nobody foresaw: that is a remembered, audited refusal too), and every fetch is
//   audited, resolved or refused.
// The caches are per instance, in memory: a document is public, and each instance
// fetching it once per lifetime is cheap.
// Why not the engine's own implementation of the draft (features.clientIdMetadataDocument,
// experimental, behind an acknowledgement of its draft version): it keeps no-store
// documents for its minimum, remembers no refusal, checks no Content-Type and has no budget
// per host; its SSRF check has no setting for development hosts but replacing the engine's
// fetch; and the client it builds carries none of our metadata (portcullis_*), which the
// rest of Portcullis reads. Through the Client adapter the engine still builds and
// validates the client itself, as it does every registry client.

export const FAILURE_SECONDS = 30;
/**
 * How long past its lifetime a copy may stand in while a shared budget (the host's, the
 * whole instance's) refuses to fetch it again: long enough to ride out a burst, short
 * enough that a document its owner withdrew or changed cannot be kept alive by exhausting
 * the budgets. A requester refused by their own budget never gets a stale copy.
 */
export const STALE_SECONDS = 300;

export interface MetadataDocumentsDeps {
  readonly allowPrivateHosts: boolean;
  /** CLIENT_REGISTRATION_*: what a document may describe, as for a registration. */
  readonly policy: RegistrationPolicy;
  readonly resources: ResourceService;
  readonly audit: AuditSink;
  /** Tests: another fetcher or budget. */
  readonly fetcher?: DocumentFetcher;
  readonly budget?: FetchBudget;
  /** Tests: the clock of the caches (milliseconds). */
  readonly now?: () => number;
}

export interface MetadataDocuments {
  /** Whether a client_id is for this feature to resolve (a URL; the registry's ids never are). */
  handles(clientId: string): boolean;
  /** The client its document describes; throws the engine's invalid_client with the reason. */
  resolve(clientId: string, facts?: Omit<ActedBy, 'actor'>): Promise<ClientRecord>;
  close(): Promise<void>;
}

/** What the requester is told when a budget refuses: their own address's budget is not the host's fault. */
const BUDGET_REFUSALS: Record<BudgetRefusal, (host: string) => string> = {
  requester: () => 'too many client metadata documents fetched at the request of your address; try again in a minute',
  host: (host) => `too many client metadata documents fetched from ${host.slice(0, 100)}; try again in a minute`,
  all: () => 'too many client metadata documents fetched; try again in a minute',
};

type Outcome = { readonly client: ClientRecord } | { readonly reason: string };

export function createMetadataDocuments(deps: MetadataDocumentsDeps): MetadataDocuments {
  const ownFetcher = deps.fetcher ? undefined : createDocumentFetcher({ allowPrivateHosts: deps.allowPrivateHosts });
  const fetchDocument = deps.fetcher ?? ownFetcher!;
  const budget = deps.budget ?? createFetchBudget({}, deps.now);
  // ttlResolution 0: every look-up reads the clock (lru-cache otherwise reuses a reading for a while).
  const perf = deps.now && { perf: { now: deps.now }, ttlResolution: 0 };
  // Bounded in entries and bytes: the URLs are anyone's to choose.
  // An expired copy stays (until evicted) for when the budget refuses a fresh fetch.
  const documents = new LRUCache<string, ClientRecord>({ max: 1000, maxSize: 8 * 1024 * 1024, sizeCalculation: (_client, key) => 8192 + 2 * key.length, noDeleteOnStaleGet: true, ...perf });
  const failures = new LRUCache<string, string>({ max: 10_000, ttl: FAILURE_SECONDS * 1000, ...perf });
  const pending = new Map<string, Promise<Outcome>>();

  async function fetchClient(clientId: string, facts: Omit<ActedBy, 'actor'>): Promise<Outcome> {
    const refused = (reason: string, detail?: string): Outcome => {
      failures.set(clientId, reason);
      // A document refused now is not served later as a stale copy.
      documents.delete(clientId);
      deps.audit.record({ type: 'client.metadata_document_refused', clientId, actor: 'system', ...facts, data: { reason, ...(detail !== undefined && { detail }) } });
      return { reason };
    };
    // Read before the catch-all below: the registry's database gone is the outage's 503
    // (answer-database-outage.ts), not a refusal of the document remembered for everyone.
    const offered = await offeredScopes(deps.policy, deps.resources);
    try {
      return await fetchAndBuild(clientId, facts, offered, refused);
    } catch (error) {
      // Nothing here should throw; if something does, the requester still gets a refusal (not a 500), remembered like any.
      return refused('the document could not be resolved', error instanceof Error ? error.message.slice(0, 200) : 'unknown error');
    }
  }

  async function fetchAndBuild(
    clientId: string,
    facts: Omit<ActedBy, 'actor'>,
    offered: ReadonlyMap<string, readonly string[]>,
    refused: (reason: string, detail?: string) => Outcome,
  ): Promise<Outcome> {
    const fetched = await fetchDocument(clientId);
    if (!fetched.ok) return refused(fetched.reason, fetched.detail);
    const built = toDocumentClient(clientId, fetched.body, deps.policy, offered);
    if (!built.ok) return refused(built.reason);
    const lifetime = cacheLifetimeMs(clientId, fetched.status, fetched.headers);
    documents.set(clientId, built.client, { ttl: lifetime });
    const { client } = built;
    deps.audit.record({
      type: 'client.metadata_document_resolved',
      clientId,
      actor: 'system',
      ...facts,
      data: { name: client.name, authMethod: client.authMethod, grantTypes: client.grantTypes, scopes: client.scopes, resources: client.resources, redirectUris: client.redirectUris, cacheSeconds: Math.round(lifetime / 1000) },
    });
    return { client };
  }

  return {
    handles: looksLikeUrlClientId,

    async resolve(clientId, facts = {}) {
      const problem = clientIdUrlProblem(clientId, { allowLoopbackHttp: deps.allowPrivateHosts });
      if (problem) throw new errors.InvalidClient(problem);
      const cached = documents.get(clientId);
      if (cached) return cached;
      const failed = failures.get(clientId);
      if (failed !== undefined) throw new errors.InvalidClient(`client metadata document refused: ${failed}`);
      let outcome = pending.get(clientId);
      if (!outcome) {
        const literal = addressLiteralProblem(clientId, deps.allowPrivateHosts);
        if (literal) {
          // Remembered and audited like a fetch refused, yet nothing was fetched or spent.
          failures.set(clientId, literal.reason);
          deps.audit.record({ type: 'client.metadata_document_refused', clientId, actor: 'system', ...facts, data: literal });
          throw new errors.InvalidClient(`client metadata document refused: ${literal.reason}`);
        }
        // The host as the budget counts it: no port, no trailing dot (one host, one budget).
        const host = new URL(clientId).hostname.replace(/\.$/, '');
        const spent = budget.take(host, facts.ip);
        if (spent !== undefined) {
          const stale = spent === 'requester' ? undefined : documents.get(clientId, { allowStale: true });
          if (stale && documents.getRemainingTTL(clientId) > -STALE_SECONDS * 1000) return stale;
          throw new errors.InvalidClient(BUDGET_REFUSALS[spent](host));
        }
        outcome = fetchClient(clientId, facts).finally(() => pending.delete(clientId));
        pending.set(clientId, outcome);
      }
      const settled = await outcome;
      if ('reason' in settled) throw new errors.InvalidClient(`client metadata document refused: ${settled.reason}`);
      return settled.client;
    },

    async close() {
      await ownFetcher?.close();
    },
  };
}
