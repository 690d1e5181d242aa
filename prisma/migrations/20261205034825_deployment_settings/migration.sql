-- CreateTable
CREATE TABLE "deployment_settings" (
    "name" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "deployment_settings_pkey" PRIMARY KEY ("name")
);
