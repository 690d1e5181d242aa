-- CreateEnum
CREATE TYPE "client_auth_method" AS ENUM ('client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none');

-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "jwks" JSONB,
ADD COLUMN     "jwks_uri" TEXT,
ADD COLUMN     "token_endpoint_auth_method" "client_auth_method" NOT NULL DEFAULT 'client_secret_basic';

-- Existing public clients (spa, native) authenticate with nothing but PKCE.
UPDATE "clients" SET "token_endpoint_auth_method" = 'none' WHERE "type" IN ('spa', 'native');
