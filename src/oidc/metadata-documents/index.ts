export { createMetadataDocuments, type MetadataDocuments } from './metadata-documents.ts';
export { isPublicAddress } from './address-guard.ts';
export { clientIdUrlProblem, looksLikeUrlClientId } from './client-id-url.ts';
