# Weft on the official Deno image (denoland/deno, Debian based). Its entrypoint runs `deno` with
# the command's arguments (`docker-entrypoint.sh` prefixes "deno" to a Deno subcommand), under
# tini as PID 1, so SIGTERM reaches `deno serve` and Weft stops gracefully.
#
#   docker build -t weft .
#   docker run -d --restart=unless-stopped -p 8000:8000 -v weft-data:/data weft
#
# The store is /data/weft.kv (a volume), or a KV Connect server with DENO_KV_URL and
# DENO_KV_ACCESS_TOKEN (compose.yaml runs the official denokv image beside Weft).
FROM denoland/deno:2.9.6

WORKDIR /app

# Dependencies first, so they are cached while only the code changes.
COPY deno.json deno.lock ./
RUN deno install --frozen

COPY . .
# The island bundle is built here, never at run time; every module is compiled into the cache.
RUN deno task build && deno cache --frozen main.ts cli.ts \
  && mkdir -p /data && chown deno:deno /data

ENV DENO_SERVE_ADDRESS=tcp:0.0.0.0:8000 \
    WEFT_KV_PATH=/data/weft.kv \
    WEFT_SHUTDOWN_GRACE_SECONDS=25

USER deno
VOLUME /data
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD ["deno", "eval", "const r = await fetch('http://127.0.0.1:8000/readyz'); Deno.exit(r.ok ? 0 : 1)"]

# Writes go to the store only: the file store's folder, nothing else.
CMD ["serve", "--allow-net", "--allow-env", "--allow-read", "--allow-write=/data", "--unstable-kv", \
     "--v8-flags=--max-semi-space-size=1,--max-old-space-size=1024", "main.ts"]
