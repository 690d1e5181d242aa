-- AlterTable
ALTER TABLE "cookie_keys" ADD COLUMN     "activates_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
ADD COLUMN     "retired_at" TIMESTAMPTZ(3);

-- AlterTable
ALTER TABLE "signing_keys" ADD COLUMN     "activates_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- Keys that existed before announced rotation were signing from their creation.
UPDATE "signing_keys" SET "activates_at" = "created_at";
UPDATE "cookie_keys" SET "activates_at" = "created_at";

-- Key changes (a rotation, a retirement, by whichever instance or the CLI) reach every
-- listening instance through the same feed as registry changes: the counter and the
-- channel of migration registry_change_feed, so one listener and one heartbeat serve both.
CREATE TRIGGER "signing_keys_changed" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "signing_keys"
  FOR EACH STATEMENT EXECUTE FUNCTION "portcullis_registry_changed"();
CREATE TRIGGER "cookie_keys_changed" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "cookie_keys"
  FOR EACH STATEMENT EXECUTE FUNCTION "portcullis_registry_changed"();
