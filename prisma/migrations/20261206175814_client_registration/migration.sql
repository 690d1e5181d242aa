-- CreateEnum
CREATE TYPE "client_origin" AS ENUM ('operator', 'registration');

-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "origin" "client_origin" NOT NULL DEFAULT 'operator',
ADD COLUMN     "registration_token_id" UUID;

-- CreateTable
CREATE TABLE "oidc_registration_access_tokens" (
    "id" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "expires_at" TIMESTAMPTZ(3),
    "client_id" TEXT NOT NULL,

    CONSTRAINT "oidc_registration_access_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "registration_tokens" (
    "id" UUID NOT NULL,
    "token_hash" TEXT NOT NULL,
    "label" TEXT,
    "uses" INTEGER NOT NULL,
    "uses_left" INTEGER NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "revoked_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "registration_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "oidc_registration_access_tokens_client_id_idx" ON "oidc_registration_access_tokens"("client_id");

-- CreateIndex
CREATE UNIQUE INDEX "registration_tokens_token_hash_key" ON "registration_tokens"("token_hash");

-- AddForeignKey
ALTER TABLE "oidc_registration_access_tokens" ADD CONSTRAINT "oidc_registration_access_tokens_client_id_fkey" FOREIGN KEY ("client_id") REFERENCES "clients"("client_id") ON DELETE CASCADE ON UPDATE CASCADE;
