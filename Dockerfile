# fecflow in a container. It needs the host's network namespace, bpffs and BPF privileges:
#
#   docker build -t fecflow .
#   docker run -d --name fecflow --network host --privileged \
#     -v /sys/fs/bpf:/sys/fs/bpf -v /etc/fecflow:/etc/fecflow:ro -v /var/lib/fecflow:/var/lib/fecflow \
#     fecflow serve -c /etc/fecflow/router.yaml --listen 127.0.0.1:9180
#
# The programs stay attached through their pins in /sys/fs/bpf when the container stops;
# `docker run ... fecflow detach --yes` (or the API) removes them.

# ---- build: the native binding, the BPF object and the TypeScript ------------------------
FROM node:20-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang llvm libbpf-dev libelf-dev zlib1g-dev pkg-config make python3 g++ linux-libc-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/fecflow
COPY package.json package-lock.json binding.gyp tsconfig.json ./
COPY native ./native
COPY dataplane ./dataplane
COPY control ./control
COPY bench ./bench
COPY bin ./bin
# `npm ci` runs node-gyp (install) and then build:bpf and build:ts (postinstall).
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

# ---- run ----------------------------------------------------------------------------------
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libbpf1 libelf1 zlib1g iproute2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/fecflow
COPY --from=build /opt/fecflow/package.json ./
COPY --from=build /opt/fecflow/node_modules ./node_modules
COPY --from=build /opt/fecflow/build/Release ./build/Release
COPY --from=build /opt/fecflow/build/bpf ./build/bpf
COPY --from=build /opt/fecflow/dist ./dist
COPY --from=build /opt/fecflow/bin ./bin
ENV FECFLOW_LOG_LEVEL=info
EXPOSE 9180
ENTRYPOINT ["node", "/opt/fecflow/bin/fecflow.js"]
CMD ["serve", "-c", "/etc/fecflow/router.yaml"]
