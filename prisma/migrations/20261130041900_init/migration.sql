-- CreateEnum
CREATE TYPE "client_type" AS ENUM ('web', 'spa', 'native', 'service', 'resource-server');

-- CreateEnum
CREATE TYPE "access_token_format" AS ENUM ('jwt', 'opaque');

-- CreateEnum
CREATE TYPE "key_status" AS ENUM ('active', 'retired');

-- CreateTable
CREATE TABLE "accounts" (
    "id" UUID NOT NULL,
    "email" TEXT NOT NULL,
    "email_verified" BOOLEAN NOT NULL DEFAULT false,
    "name" TEXT NOT NULL,
    "password_hash" TEXT,
    "disabled" BOOLEAN NOT NULL DEFAULT false,
    "roles" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "accounts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "clients" (
    "client_id" TEXT NOT NULL,
    "type" "client_type" NOT NULL,
    "name" TEXT NOT NULL,
    "secret_ciphertext" TEXT,
    "redirect_uris" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "post_logout_redirect_uris" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "cors_origins" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "grant_types" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "scopes" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "resources" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "first_party" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "clients_pkey" PRIMARY KEY ("client_id")
);

-- CreateTable
CREATE TABLE "resource_servers" (
    "indicator" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "access_token_format" "access_token_format" NOT NULL DEFAULT 'jwt',
    "access_token_ttl" INTEGER NOT NULL DEFAULT 3600,
    "signing_alg" TEXT NOT NULL DEFAULT 'ES256',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "resource_servers_pkey" PRIMARY KEY ("indicator")
);

-- CreateTable
CREATE TABLE "resource_scopes" (
    "resource_indicator" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',

    CONSTRAINT "resource_scopes_pkey" PRIMARY KEY ("resource_indicator","name")
);

-- CreateTable
CREATE TABLE "signing_keys" (
    "kid" TEXT NOT NULL,
    "alg" TEXT NOT NULL,
    "status" "key_status" NOT NULL DEFAULT 'active',
    "private_jwk_ciphertext" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "retired_at" TIMESTAMPTZ(3),

    CONSTRAINT "signing_keys_pkey" PRIMARY KEY ("kid")
);

-- CreateTable
CREATE TABLE "cookie_keys" (
    "id" SERIAL NOT NULL,
    "secret_ciphertext" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "cookie_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "oidc_sessions" (
    "id" TEXT NOT NULL,
    "uid" TEXT NOT NULL,
    "account_id" TEXT,
    "payload" JSONB NOT NULL,
    "expires_at" TIMESTAMPTZ(3),

    CONSTRAINT "oidc_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "oidc_interactions" (
    "id" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "expires_at" TIMESTAMPTZ(3),

    CONSTRAINT "oidc_interactions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "oidc_grants" (
    "id" TEXT NOT NULL,
    "account_id" TEXT,
    "client_id" TEXT,
    "payload" JSONB NOT NULL,
    "expires_at" TIMESTAMPTZ(3),

    CONSTRAINT "oidc_grants_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "oidc_authorization_codes" (
    "id" TEXT NOT NULL,
    "grant_id" TEXT,
    "payload" JSONB NOT NULL,
    "expires_at" TIMESTAMPTZ(3),
    "consumed_at" TIMESTAMPTZ(3),

    CONSTRAINT "oidc_authorization_codes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "oidc_access_tokens" (
    "id" TEXT NOT NULL,
    "grant_id" TEXT,
    "payload" JSONB NOT NULL,
    "expires_at" TIMESTAMPTZ(3),

    CONSTRAINT "oidc_access_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "oidc_refresh_tokens" (
    "id" TEXT NOT NULL,
    "grant_id" TEXT,
    "payload" JSONB NOT NULL,
    "expires_at" TIMESTAMPTZ(3),
    "consumed_at" TIMESTAMPTZ(3),

    CONSTRAINT "oidc_refresh_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "oidc_client_credentials" (
    "id" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "expires_at" TIMESTAMPTZ(3),

    CONSTRAINT "oidc_client_credentials_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "oidc_pushed_authorization_requests" (
    "id" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "expires_at" TIMESTAMPTZ(3),
    "consumed_at" TIMESTAMPTZ(3),

    CONSTRAINT "oidc_pushed_authorization_requests_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "oidc_replay_detections" (
    "id" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "expires_at" TIMESTAMPTZ(3),

    CONSTRAINT "oidc_replay_detections_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "accounts_email_key" ON "accounts"("email");

-- CreateIndex
CREATE INDEX "signing_keys_status_created_at_idx" ON "signing_keys"("status", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "oidc_sessions_uid_key" ON "oidc_sessions"("uid");

-- CreateIndex
CREATE INDEX "oidc_sessions_account_id_idx" ON "oidc_sessions"("account_id");

-- CreateIndex
CREATE INDEX "oidc_sessions_expires_at_idx" ON "oidc_sessions"("expires_at");

-- CreateIndex
CREATE INDEX "oidc_interactions_expires_at_idx" ON "oidc_interactions"("expires_at");

-- CreateIndex
CREATE INDEX "oidc_grants_account_id_idx" ON "oidc_grants"("account_id");

-- CreateIndex
CREATE INDEX "oidc_grants_client_id_idx" ON "oidc_grants"("client_id");

-- CreateIndex
CREATE INDEX "oidc_grants_expires_at_idx" ON "oidc_grants"("expires_at");

-- CreateIndex
CREATE INDEX "oidc_authorization_codes_grant_id_idx" ON "oidc_authorization_codes"("grant_id");

-- CreateIndex
CREATE INDEX "oidc_authorization_codes_expires_at_idx" ON "oidc_authorization_codes"("expires_at");

-- CreateIndex
CREATE INDEX "oidc_access_tokens_grant_id_idx" ON "oidc_access_tokens"("grant_id");

-- CreateIndex
CREATE INDEX "oidc_access_tokens_expires_at_idx" ON "oidc_access_tokens"("expires_at");

-- CreateIndex
CREATE INDEX "oidc_refresh_tokens_grant_id_idx" ON "oidc_refresh_tokens"("grant_id");

-- CreateIndex
CREATE INDEX "oidc_refresh_tokens_expires_at_idx" ON "oidc_refresh_tokens"("expires_at");

-- CreateIndex
CREATE INDEX "oidc_client_credentials_expires_at_idx" ON "oidc_client_credentials"("expires_at");

-- CreateIndex
CREATE INDEX "oidc_pushed_authorization_requests_expires_at_idx" ON "oidc_pushed_authorization_requests"("expires_at");

-- CreateIndex
CREATE INDEX "oidc_replay_detections_expires_at_idx" ON "oidc_replay_detections"("expires_at");

-- AddForeignKey
ALTER TABLE "resource_scopes" ADD CONSTRAINT "resource_scopes_resource_indicator_fkey" FOREIGN KEY ("resource_indicator") REFERENCES "resource_servers"("indicator") ON DELETE CASCADE ON UPDATE CASCADE;
