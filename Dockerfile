# The gateway image. Sources run directly on Node 24 (type stripping); no build step.
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
ENV WASMGATE_HOST=0.0.0.0 \
    WASMGATE_PORT=8787 \
    WASMGATE_ADMIN_HOST=0.0.0.0 \
    WASMGATE_ADMIN_PORT=8788 \
    WASMGATE_STATE_DIR=/var/lib/wasmgate
VOLUME ["/var/lib/wasmgate"]
EXPOSE 8787 8788
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8788/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "bin/wasmgate.js", "serve"]
