-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "require_mfa" BOOLEAN NOT NULL DEFAULT false;
