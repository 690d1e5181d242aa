-- CreateTable
CREATE TABLE "throttle_releases" (
    "id" BIGSERIAL NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "subject" TEXT,
    "address" TEXT,

    CONSTRAINT "throttle_releases_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "throttle_releases_created_at_idx" ON "throttle_releases"("created_at");
