-- AlterTable
ALTER TABLE "oidc_refresh_tokens" ADD COLUMN     "rotated_at" TIMESTAMPTZ(3),
ADD COLUMN     "rotated_from" TEXT,
ADD COLUMN     "rotation_claim" TEXT;

-- CreateTable
CREATE TABLE "consents" (
    "account_id" UUID NOT NULL,
    "client_id" TEXT NOT NULL,
    "oidc_scope" TEXT NOT NULL DEFAULT '',
    "oidc_claims" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "resource_scopes" JSONB NOT NULL DEFAULT '{}',
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "consents_pkey" PRIMARY KEY ("account_id","client_id")
);

-- CreateIndex
CREATE INDEX "consents_client_id_idx" ON "consents"("client_id");

-- CreateIndex
CREATE INDEX "oidc_refresh_tokens_rotated_from_idx" ON "oidc_refresh_tokens"("rotated_from");

-- AddForeignKey
ALTER TABLE "consents" ADD CONSTRAINT "consents_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "consents" ADD CONSTRAINT "consents_client_id_fkey" FOREIGN KEY ("client_id") REFERENCES "clients"("client_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Data: rotations recorded before this migration are final.
UPDATE "oidc_refresh_tokens" SET "rotated_at" = "consumed_at" WHERE "consumed_at" IS NOT NULL;

-- Data: tokens, codes and session ids are stored only as SHA-256 (base64url),
-- and the payloads no longer carry them (the engine's `jti` is the token itself).
UPDATE "oidc_sessions" SET "id" = rtrim(translate(encode(sha256(convert_to("id", 'UTF8')), 'base64'), '+/', '-_'), '='), "payload" = "payload" - 'jti';
UPDATE "oidc_authorization_codes" SET "id" = rtrim(translate(encode(sha256(convert_to("id", 'UTF8')), 'base64'), '+/', '-_'), '='), "payload" = "payload" - 'jti';
UPDATE "oidc_access_tokens" SET "id" = rtrim(translate(encode(sha256(convert_to("id", 'UTF8')), 'base64'), '+/', '-_'), '='), "payload" = "payload" - 'jti';
UPDATE "oidc_refresh_tokens" SET "id" = rtrim(translate(encode(sha256(convert_to("id", 'UTF8')), 'base64'), '+/', '-_'), '='), "payload" = "payload" - 'jti';
UPDATE "oidc_client_credentials" SET "id" = rtrim(translate(encode(sha256(convert_to("id", 'UTF8')), 'base64'), '+/', '-_'), '='), "payload" = "payload" - 'jti';
UPDATE "oidc_pushed_authorization_requests" SET "id" = rtrim(translate(encode(sha256(convert_to("id", 'UTF8')), 'base64'), '+/', '-_'), '='), "payload" = "payload" - 'jti';

-- Data: what people consented to so far, from their newest live grant per client.
INSERT INTO "consents" ("account_id", "client_id", "oidc_scope", "oidc_claims", "resource_scopes", "updated_at")
SELECT DISTINCT ON (g."account_id", g."client_id")
  a."id",
  c."client_id",
  coalesce(g."payload" -> 'openid' ->> 'scope', ''),
  ARRAY(SELECT jsonb_array_elements_text(coalesce(g."payload" -> 'openid' -> 'claims', '[]'::jsonb))),
  coalesce(g."payload" -> 'resources', '{}'::jsonb),
  now()
FROM "oidc_grants" g
JOIN "accounts" a ON a."id"::text = g."account_id"
JOIN "clients" c ON c."client_id" = g."client_id"
WHERE g."expires_at" IS NULL OR g."expires_at" > now()
ORDER BY g."account_id", g."client_id", g."expires_at" DESC NULLS FIRST;
