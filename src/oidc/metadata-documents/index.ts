export { createMetadataDocuments, type MetadataDocuments } from './metadata-documents.ts';
export { looksLikeUrlClientId } from './client-id-url.ts';
