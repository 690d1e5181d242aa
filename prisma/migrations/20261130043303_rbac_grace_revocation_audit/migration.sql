-- AlterTable
ALTER TABLE "oidc_refresh_tokens" ADD COLUMN     "successor_ciphertext" TEXT;

-- AlterTable
ALTER TABLE "resource_scopes" ADD COLUMN     "roles" TEXT[] DEFAULT ARRAY[]::TEXT[];

-- CreateTable
CREATE TABLE "revoked_access_tokens" (
    "jti" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "revoked_access_tokens_pkey" PRIMARY KEY ("jti")
);

-- CreateTable
CREATE TABLE "audit_events" (
    "id" BIGSERIAL NOT NULL,
    "time" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "type" TEXT NOT NULL,
    "actor" TEXT,
    "account_id" TEXT,
    "client_id" TEXT,
    "ip" TEXT,
    "user_agent" TEXT,
    "request_id" TEXT,
    "data" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "audit_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "revoked_access_tokens_expires_at_idx" ON "revoked_access_tokens"("expires_at");

-- CreateIndex
CREATE INDEX "audit_events_time_idx" ON "audit_events"("time");

-- CreateIndex
CREATE INDEX "audit_events_account_id_time_idx" ON "audit_events"("account_id", "time");

-- CreateIndex
CREATE INDEX "audit_events_client_id_time_idx" ON "audit_events"("client_id", "time");

-- CreateIndex
CREATE INDEX "audit_events_type_time_idx" ON "audit_events"("type", "time");
