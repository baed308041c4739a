# The Orla gateway. Build: docker build -t orla .   Run: docker run -p 127.0.0.1:8080:8080 orla
# No config: the embedded default (two in-process simulated engines). Mount one at /etc/orla/orla.yaml,
# or name its path in ORLA_CONFIG. Written for the legacy builder too (no RUN --mount, COPY --chmod).

# Build: compile the TypeScript sources into dist/ with the dev dependencies.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json index.ts errors.ts cancel.ts hash.ts identity.ts state.ts ./
COPY cli ./cli
COPY config ./config
COPY gateway ./gateway
COPY memory ./memory
COPY routing ./routing
COPY sessions ./sessions
COPY upstream ./upstream
COPY simulator ./simulator
COPY workflows ./workflows
RUN npm run build

# Runtime: production dependencies, the build, and the data the demo reads; nothing else.
FROM node:24-bookworm-slim
LABEL org.opencontainers.image.title="orla" \
      org.opencontainers.image.description="Orla: an OpenAI-compatible gateway for LLM agent workflows" \
      org.opencontainers.image.licenses="Apache-2.0"
# V8's young generation capped at 8 MB a half, as `npm start` runs the gateway (package.json): its
# short-lived objects are a request's, and the default 16 MB halves held 15 MB more RSS under load for
# 2% less CPU (bench/README.md, "Footprint"). NODE_OPTIONS, so that `docker run -e` can change it.
ENV NODE_ENV=production NODE_OPTIONS=--max-semi-space-size=8
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY workflows/customer-support/data ./workflows/customer-support/data
COPY deploy/image/entrypoint.sh deploy/image/probe.mjs /usr/local/lib/orla/
# The files stay root's: the gateway (user node, uid 1000) can read them, not change them.
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "/usr/local/lib/orla/probe.mjs", "http://127.0.0.1:8080/health"]
ENTRYPOINT ["/usr/local/lib/orla/entrypoint.sh"]
# 0.0.0.0: reachable through the published port. In-flight requests get 5 s to finish on SIGTERM, well
# inside docker stop's 10 s grace (raise both together: docker run --stop-timeout 60 … serve --drain-timeout 55).
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--drain-timeout", "5"]
