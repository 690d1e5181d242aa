-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "token_generation" UUID NOT NULL DEFAULT gen_random_uuid();
