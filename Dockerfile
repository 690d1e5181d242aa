# Portcullis on Node 22 LTS. Build: docker build -t portcullis .
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Dependencies first (a layer that changes only with the lockfile); our own install step
# (the Prisma client, the compiled JavaScript) needs the sources, so it runs after them.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN node scripts/prisma.mjs generate && npm run build
# Dev tools (the TypeScript compiler among them) are not needed at run time.
RUN npm prune --omit=dev --ignore-scripts

FROM node:22-bookworm-slim
# portcullis_build_info's commit label (the image holds no .git): --build-arg PORTCULLIS_COMMIT=$(git rev-parse HEAD)
ARG PORTCULLIS_COMMIT=unknown
ENV PORTCULLIS_COMMIT=$PORTCULLIS_COMMIT
# The management listener (health, readiness, metrics) binds to all interfaces in the
# container; publish it only on a private network.
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 DATA_DIR=/data MANAGEMENT_HOST=0.0.0.0 MANAGEMENT_PORT=9464
WORKDIR /app
COPY --from=build /app /app
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000 9464
VOLUME ["/data"]
# Compiled JavaScript (dist/), not the TypeScript sources: a faster start and less memory.
CMD ["node", "dist/main.js"]
