-- Per client: authorization requests only pushed first (PAR, RFC 9126) and/or only as
-- request objects signed with the client's keys (JAR, RFC 9101). Off for every existing client.
ALTER TABLE "clients" ADD COLUMN "require_pushed_requests" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN "require_signed_requests" BOOLEAN NOT NULL DEFAULT false;
