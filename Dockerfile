# The `ranker` image of docker-compose.yml (README: "Run it with Docker Compose").
#
# Build stage: the repo's own scripts on Debian 12 (install-deps.sh with the
# build packages only, build.sh) with portable CPU flags: RANKER_NATIVE=OFF,
# -O3 -DNDEBUG, -march=$RANKER_ARCH on x86-64 (arm64 builds use the compiler's
# default). RANKER_ARCH defaults to x86-64-v3 (AVX2 + FMA: Intel Haswell 2013,
# AMD Excavator 2015 and later); use x86-64-v2 (SSE4.2) for older CPUs, at about
# 2.2x the training and 1.9x the scoring time (measured against -march=native on
# Zen 4, where x86-64-v3 was 6-11% faster than native AVX-512).
# Runtime stage: the runtime libraries (install-deps.sh --runtime), curl for the
# healthcheck, the binary without debug info, a non-root user owning the data
# directory (the named volume of docker-compose.yml is mounted there).
FROM debian:bookworm AS build
ARG RANKER_ARCH=x86-64-v3
WORKDIR /src
COPY scripts/install-deps.sh scripts/
RUN scripts/install-deps.sh --build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN RANKER_DEPS=build scripts/build.sh /build -DRANKER_NATIVE=OFF \
      -DRANKER_PORTABLE_ARCH="$RANKER_ARCH" \
      -DRANKER_BUILD_TESTS=OFF -DRANKER_BUILD_BENCH=OFF \
 && strip --strip-debug -o /ranker /build/cli/ranker

FROM debian:bookworm-slim AS runtime
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN /tmp/install-deps.sh --runtime \
 && apt-get install -y -qq --no-install-recommends curl >/dev/null \
 && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/ranker ranker \
 && install -d -o ranker -g ranker /var/lib/ranker
COPY --from=build /ranker /usr/local/bin/ranker
USER ranker
WORKDIR /var/lib/ranker
EXPOSE 8080
ENTRYPOINT ["ranker"]
CMD ["serve", "--http", "0.0.0.0:8080", "--data-dir", "/var/lib/ranker"]
