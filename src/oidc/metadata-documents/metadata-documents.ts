import { LRUCache } from 'lru-cache';

import type { ActedBy, AuditSink } from '../../audit/index.ts';
import type { ClientRecord, ResourceService } from '../../clients/index.ts';
import type { RegistrationPolicy } from '../../config/index.ts';
import { errors } from '../engine.ts';
import { cacheLifetimeMs } from './cache-lifetime.ts';
import { clientIdUrlProblem, looksLikeUrlClientId } from './client-id-url.ts';
import { toDocumentClient } from './document-client.ts';
import { createFetchBudget, type FetchBudget } from './fetch-budget.ts';
import { createDocumentFetcher, type DocumentFetcher } from './fetch-document.ts';

// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document), as the MCP
// authorization specification uses them: a client_id that is an https URL is the client's
// own description, fetched from that URL when the engine first asks for the client. The
// engine then builds and validates the client as it does a registered one (the Client
// adapter's find, provider-config.ts); nothing is stored in the registry. Here:
// - the URL is checked against the draft's rules before anything is fetched;
// - a document is fetched at most once per its cache lifetime (cache-lifetime.ts), one
//   fetch for concurrent requests naming it, within a budget per host and in all
//   (fetch-budget.ts), through the SSRF guard (fetch-document.ts, address-guard.ts);
// - a refusal is remembered for FAILURE_SECONDS: asking again costs no fetch, so naming a
//   bad or slow URL over and over cannot make us fetch in a loop;
// - every refusal is the engine's invalid_client with the reason (never a 5xx), and every
//   fetch is audited, resolved or refused.
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

export interface MetadataDocumentsDeps {
  readonly allowPrivateHosts: boolean;
  /** CLIENT_REGISTRATION_*: what a document may describe, as for a registration. */
  readonly policy: RegistrationPolicy;
  readonly resources: ResourceService;
  readonly audit: AuditSink;
  /** Tests: another fetcher or budget. */
  readonly fetcher?: DocumentFetcher;
  readonly budget?: FetchBudget;
}

export interface MetadataDocuments {
  /** Whether a client_id is for this feature to resolve (a URL; the registry's ids never are). */
  handles(clientId: string): boolean;
  /** The client its document describes; throws the engine's invalid_client with the reason. */
  resolve(clientId: string, facts?: Omit<ActedBy, 'actor'>): Promise<ClientRecord>;
  close(): Promise<void>;
}

type Outcome = { readonly client: ClientRecord } | { readonly reason: string };

export function createMetadataDocuments(deps: MetadataDocumentsDeps): MetadataDocuments {
  const ownFetcher = deps.fetcher ? undefined : createDocumentFetcher({ allowPrivateHosts: deps.allowPrivateHosts });
  const fetchDocument = deps.fetcher ?? ownFetcher!;
  const budget = deps.budget ?? createFetchBudget();
  // Bounded in entries and bytes: the URLs are anyone's to choose.
  const documents = new LRUCache<string, ClientRecord>({ max: 1000, maxSize: 8 * 1024 * 1024, sizeCalculation: (_client, key) => 8192 + 2 * key.length });
  const failures = new LRUCache<string, string>({ max: 10_000, ttl: FAILURE_SECONDS * 1000 });
  const pending = new Map<string, Promise<Outcome>>();

  async function offeredScopes(): Promise<Map<string, string[]>> {
    const offered = new Map<string, string[]>();
    for (const indicator of deps.policy.resources) {
      const resource = await deps.resources.find(indicator);
      if (resource) offered.set(indicator, resource.scopes.map((scope) => scope.name));
    }
    return offered;
  }

  async function fetchClient(clientId: string, facts: Omit<ActedBy, 'actor'>): Promise<Outcome> {
    const refused = (reason: string): Outcome => {
      failures.set(clientId, reason);
      deps.audit.record({ type: 'client.metadata_document_refused', clientId, actor: 'system', ...facts, data: { reason } });
      return { reason };
    };
    const fetched = await fetchDocument(clientId);
    if (!fetched.ok) return refused(fetched.reason);
    const built = toDocumentClient(clientId, fetched.body, deps.policy, await offeredScopes());
    if (!built.ok) return refused(built.reason);
    const lifetime = cacheLifetimeMs(clientId, fetched.status, fetched.headers);
    if (lifetime > 0) documents.set(clientId, built.client, { ttl: lifetime });
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
        const host = new URL(clientId).host;
        if (!budget.take(host)) throw new errors.InvalidClient(`too many client metadata documents fetched from ${host}; try again in a minute`);
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
