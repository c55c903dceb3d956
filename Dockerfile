# nightjar image (worker, scheduler, server). Build: docker build -t nightjar .
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY bin ./bin
COPY tsconfig.json tsconfig.build.json ./
COPY core ./core
COPY connectors ./connectors
COPY workers ./workers
COPY app ./app
COPY server ./server
COPY cli ./cli
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app /app
COPY jobs ./jobs
COPY mappings ./mappings
COPY schemas ./schemas
COPY docs/openapi.json ./docs/openapi.json
# The embedded SQLite default writes data/; reject spools and staging use the OS temp folder.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
# the flags of bin/nightjar.js's first line
ENTRYPOINT ["node", "--max-semi-space-size=8", "bin/nightjar.js"]
CMD ["worker"]
