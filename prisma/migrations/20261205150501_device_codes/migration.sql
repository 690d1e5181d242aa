-- CreateTable
CREATE TABLE "oidc_device_codes" (
    "id" TEXT NOT NULL,
    "grant_id" TEXT,
    "user_code" TEXT,
    "sealed_code" TEXT,
    "payload" JSONB NOT NULL,
    "expires_at" TIMESTAMPTZ(3),
    "consumed_at" TIMESTAMPTZ(3),
    "polled_at" TIMESTAMPTZ(3),

    CONSTRAINT "oidc_device_codes_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "oidc_device_codes_user_code_key" ON "oidc_device_codes"("user_code");

-- CreateIndex
CREATE INDEX "oidc_device_codes_grant_id_idx" ON "oidc_device_codes"("grant_id");

-- CreateIndex
CREATE INDEX "oidc_device_codes_expires_at_idx" ON "oidc_device_codes"("expires_at");
