-- CreateTable
CREATE TABLE "registry_version" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "version" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "registry_version_pkey" PRIMARY KEY ("id")
);

-- The one row the trigger bumps.
INSERT INTO "registry_version" ("id", "version") VALUES (1, 0);

-- Every write to the registry, whoever makes it (a server, the CLI, SQL by hand), bumps the
-- counter and tells the listening instances, which drop their cached registry. Per
-- statement: an import touching many rows is one change.
CREATE FUNCTION "portcullis_registry_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "registry_version" SET "version" = "version" + 1 WHERE "id" = 1;
  PERFORM pg_notify('portcullis_registry', TG_TABLE_NAME);
  RETURN NULL;
END;
$$;

CREATE TRIGGER "clients_changed" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "clients"
  FOR EACH STATEMENT EXECUTE FUNCTION "portcullis_registry_changed"();
CREATE TRIGGER "resource_servers_changed" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "resource_servers"
  FOR EACH STATEMENT EXECUTE FUNCTION "portcullis_registry_changed"();
CREATE TRIGGER "resource_scopes_changed" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "resource_scopes"
  FOR EACH STATEMENT EXECUTE FUNCTION "portcullis_registry_changed"();
