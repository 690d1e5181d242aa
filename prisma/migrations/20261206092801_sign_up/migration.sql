-- CreateTable
CREATE TABLE "invitations" (
    "token_hash" TEXT NOT NULL,
    "email" TEXT,
    "roles" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "used_at" TIMESTAMPTZ(3),
    "account_id" UUID,

    CONSTRAINT "invitations_pkey" PRIMARY KEY ("token_hash")
);

-- CreateTable
CREATE TABLE "sign_up_links" (
    "token_hash" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "invitation_hash" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "used_at" TIMESTAMPTZ(3),
    "interaction_uid" TEXT,
    "refusals" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "sign_up_links_pkey" PRIMARY KEY ("token_hash")
);

-- CreateIndex
CREATE INDEX "invitations_expires_at_idx" ON "invitations"("expires_at");

-- CreateIndex
CREATE INDEX "sign_up_links_email_idx" ON "sign_up_links"("email");

-- CreateIndex
CREATE INDEX "sign_up_links_expires_at_idx" ON "sign_up_links"("expires_at");

-- AddForeignKey
ALTER TABLE "invitations" ADD CONSTRAINT "invitations_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sign_up_links" ADD CONSTRAINT "sign_up_links_invitation_hash_fkey" FOREIGN KEY ("invitation_hash") REFERENCES "invitations"("token_hash") ON DELETE CASCADE ON UPDATE CASCADE;
