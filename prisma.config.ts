import { defineConfig } from 'prisma/config';

// Prisma 7 reads the connection from here, not from schema.prisma. Only the CLI on
// machines that have its schema engine uses it (`prisma migrate deploy`); Portcullis
// applies migrations itself (src/db/migrate.ts) and needs no engine binary.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/portcullis' },
});
