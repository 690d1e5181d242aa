// Makes the embedded database's test template: one PGlite folder with every migration
// applied, made once per `run-tests.mjs` run and copied by each test file that needs a
// migrated database (test/helpers/test-database.ts, TEST_EMBEDDED_TEMPLATE). A fresh PGlite
// folder costs an initdb in WASM (about 2.5 s here), a copy about 0.5 s, and a flow run
// starts some 150 of them.
//
// Usage: node --import tsx scripts/make-test-template.ts <folder>
// The folder gets `pglite/`; nothing is printed unless it fails.
import { createDatabase, migrate } from '../src/db/index.ts';
import { EMBEDDED_POOL_MAX, startEmbeddedDatabase } from '../src/db/embedded-database.ts';

const folder = process.argv[2];
if (folder === undefined) {
  console.error('usage: make-test-template.ts <folder>');
  process.exit(1);
}
const embedded = await startEmbeddedDatabase({ dataDir: folder });
const database = createDatabase({ url: embedded.url, poolMax: EMBEDDED_POOL_MAX });
try {
  await migrate(database.pool);
} finally {
  await database.close();
  // A clean stop writes the shutdown checkpoint: copies start without recovery.
  await embedded.stop();
}
