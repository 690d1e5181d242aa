-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "exchange_act" BOOLEAN NOT NULL DEFAULT true,
ADD COLUMN     "exchange_audiences" TEXT[] DEFAULT ARRAY[]::TEXT[];

-- AlterTable
ALTER TABLE "oidc_grants" ADD COLUMN     "parent_id" TEXT;

-- CreateIndex
CREATE INDEX "oidc_grants_parent_id_idx" ON "oidc_grants"("parent_id");

-- AddForeignKey
ALTER TABLE "oidc_grants" ADD CONSTRAINT "oidc_grants_parent_id_fkey" FOREIGN KEY ("parent_id") REFERENCES "oidc_grants"("id") ON DELETE CASCADE ON UPDATE CASCADE;
