export { createMetadataDocuments, type MetadataDocuments } from './metadata-documents.ts';
export { looksLikeUrlClientId, MAX_CLIENT_ID_URL_LENGTH } from './client-id-url.ts';
