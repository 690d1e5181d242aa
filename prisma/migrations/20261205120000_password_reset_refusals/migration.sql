-- Refused new passwords per link: a link spends itself after too many (the strength check costs CPU).
ALTER TABLE "password_resets" ADD COLUMN "refusals" INTEGER NOT NULL DEFAULT 0;
