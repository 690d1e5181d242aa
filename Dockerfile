# Portcullis on Node 22 LTS. Build: docker build -t portcullis .
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/prisma.mjs scripts/prisma.mjs
COPY prisma prisma
COPY prisma.config.ts ./
RUN npm ci --no-audit --no-fund
COPY . .
# The Prisma client is generated at install; dev tools are not needed at run time.
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
CMD ["node", "--import", "tsx", "src/main.ts"]
