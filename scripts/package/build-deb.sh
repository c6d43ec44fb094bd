#!/usr/bin/env bash
# Builds dist-deb/fecflow_<version>-<rev>_<arch>.deb (./run package, npm run package) from a
# clean build in a temporary directory: the same files the Dockerfile builds from, `npm ci`
# (native addon, BPF object, TypeScript), then only the production dependencies, staged under
# /usr/lib/fecflow and packed with dpkg-deb --root-owner-group. Needs the build tools of
# scripts/system-deps.sh; the machine that installs the .deb needs none of them.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD

upstream=$(node -p "require('./package.json').version")
version="$upstream-${FECFLOW_DEB_REVISION:-1}"
arch=$(dpkg --print-architecture)
# Who answers for the package: set it for a real distribution; the default is a placeholder.
maintainer=${FECFLOW_DEB_MAINTAINER:-"fecflow maintainers <maintainers@fecflow.invalid>"}
# Reproducible dates: the last commit's, else now.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH=$epoch

# Dependencies needed only to compile (the addon's headers and build tool), not to run.
build_only=(node-gyp node-addon-api)

work=$(mktemp -d "${TMPDIR:-/tmp}/fecflow-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/src
root=$work/root
app=$root/usr/lib/fecflow
mkdir -p "$src" "$app"
t0=$(date +%s)

# ---- build from a clean copy --------------------------------------------------------------
cp -a package.json package-lock.json binding.gyp tsconfig.json LICENSE native dataplane control bin portal "$src/"
(cd "$src" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error >"$work/npm-ci.log" 2>&1) || {
  cat "$work/npm-ci.log" >&2
  exit 1
}
t1=$(date +%s)
# Drop dev and build-only dependencies; native modules keep what their install step compiled.
node -e '
  const fs = require("fs"); const f = process.argv[1]; const p = JSON.parse(fs.readFileSync(f, "utf8"));
  for (const n of process.argv.slice(2)) if (p.dependencies?.[n]) { p.devDependencies[n] = p.dependencies[n]; delete p.dependencies[n]; }
  fs.writeFileSync(f, JSON.stringify(p, null, 2) + "\n");' "$src/package.json" "${build_only[@]}"
(cd "$src" && npm prune --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)

# ---- stage /usr/lib/fecflow ------------------------------------------------------------------
cp "$repo/package.json" "$app/"               # repoRoot() finds the install by it; "type": "module"
mkdir -p "$app/bin" "$app/build/bpf" "$app/build/Release"
cp "$src/bin/fecflow.js" "$app/bin/"
cp -a "$src/dist" "$app/dist"
cp -a "$src/portal" "$app/portal"               # the web UI's page and assets (served at /ui)
rm -rf "$app/dist/bench"
find "$app/dist" -name '*.map' -delete
cp "$src/build/bpf/fecflow.bpf.o" "$app/build/bpf/"   # keeps its BTF: the loader checks layouts with it
cp "$src/build/Release/fecflow_bpf.node" "$app/build/Release/"
cp -a "$src/node_modules" "$app/node_modules"
nm=$app/node_modules
rm -rf "$nm/.bin" "$nm/.package-lock.json"
# Native modules: keep the compiled addon (build/Release/*.node), not the compiler's leftovers.
while IFS= read -r -d '' gyp; do
  d=$(dirname "$gyp")
  if [ -d "$d/build" ]; then
    find "$d/build" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
    # test_*.node: addons a module builds for its own tests (better-sqlite3's test_extension)
    [ -d "$d/build/Release" ] && find "$d/build/Release" -mindepth 1 -maxdepth 1 \( ! -name '*.node' -o -name 'test_*.node' \) -exec rm -rf {} +
  fi
  rm -rf "$d/deps" "$d/src"
done < <(find "$nm" -name binding.gyp -print0)
# What no program reads at run time: a package's own tests, docs and examples (at its top level
# only: deeper, a folder named doc may be code, as in yaml), type declarations, source maps.
find "$nm" -regextype posix-extended -depth -type d \
  -regex '.*/node_modules/(@[^/]+/)?[^/]+/(test|tests|__tests__|docs?|examples?|benchmarks?|\.github)' -exec rm -rf {} +
find "$nm" -regextype posix-extended -depth \
  -regex '.*/node_modules/(@[^/]+/)?[^/]+/(\.[^/]+|[^/]+\.html|[^/]+\.sh)' -exec rm -rf {} +
find "$nm" -type f \( -name '*.md' -o -name '*.markdown' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \
  -o -name '*.map' -o -name '*.ts' -o -name '.npmignore' -o -name '.eslintrc*' -o -name '.editorconfig' \
  -o -name '.travis.yml' -o -name 'Makefile' -o -name '*.gyp' -o -name '*.gypi' \) -delete
find "$app" -name '*.node' -exec strip --strip-unneeded --remove-section=.comment {} +

# ---- the rest of the file system --------------------------------------------------------------
install -D -m 0755 scripts/package/fecflow.sh "$root/usr/bin/fecflow"
install -D -m 0644 deploy/fecflow.service "$root/lib/systemd/system/fecflow.service"
doc=$root/usr/share/doc/fecflow
mkdir -p "$doc/examples" "$root/usr/share/man/man1" "$root/usr/share/bash-completion/completions"
cp deploy/examples/*.yaml "$doc/examples/"
node "$app/bin/fecflow.js" completion >"$root/usr/share/bash-completion/completions/fecflow"
node scripts/package/gen-manpage.mjs "$app" "$upstream" "$(date -u -d "@$epoch" +%F)" | gzip -9n >"$root/usr/share/man/man1/fecflow.1.gz"
node scripts/package/copyright.mjs "$app" "$src/LICENSE" >"$doc/copyright"
# LICENSE files are all in the copyright file now.
find "$nm" -type f \( -iname 'license' -o -iname 'license.*' -o -iname 'licence' -o -iname 'licence.*' -o -iname 'copying' \) -delete
find "$app" -depth -type d -empty -delete
{
  printf 'fecflow (%s) unstable; urgency=medium\n\n' "$version"
  printf '  * Package of fecflow %s' "$upstream"
  if rev=$(git rev-parse --short HEAD 2>/dev/null); then printf ' (git %s)' "$rev"; fi
  printf '.\n\n -- %s  %s\n' "$maintainer" "$(date -u -R -d "@$epoch")"
} | gzip -9n >"$doc/changelog.Debian.gz"

# ---- DEBIAN/ ----------------------------------------------------------------------------------
mkdir -p "$root/DEBIAN"
for s in postinst prerm postrm; do install -m 0755 "scripts/package/$s" "$root/DEBIAN/$s"; done
# Shared-library dependencies of every native addon (ours and any npm module's), from dpkg itself.
mkdir -p "$work/shlibs/debian"
printf 'Source: fecflow\n\nPackage: fecflow\nArchitecture: any\n' >"$work/shlibs/debian/control"
mapfile -t addons < <(find "$app" -name '*.node')
shlibs=$(cd "$work/shlibs" && dpkg-shlibdeps -O "${addons[@]}" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
# libbpf1 and libelf1 are named even if no addon links them directly (libbpf opens ELF files).
depends=$shlibs
case ", $depends" in *", libbpf1"*) ;; *) depends="libbpf1, $depends" ;; esac
case ", $depends" in *", libelf1"*) ;; *) depends="libelf1, $depends" ;; esac
node_major=$(node -p "require('./package.json').engines.node.match(/\d+/)[0]")
find "$root" -type d -exec chmod 0755 {} +
find "$root" -type f ! -path "$root/DEBIAN/*" ! -path "$root/usr/bin/*" -exec chmod 0644 {} +
# A script keeps its #! and so may be run: executable (the modules' own CLIs, our bin/fecflow.js).
find "$app" -type f -exec sh -c 'for f; do [ "$(head -c 2 "$f")" = "#!" ] && chmod 0755 "$f"; done; true' sh {} +
install -D -m 0644 scripts/package/lintian-overrides "$root/usr/share/lintian/overrides/fecflow"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: fecflow
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: nodejs (>= $node_major), $depends
Recommends: iproute2
Section: net
Priority: optional
Description: MPLS forwarder in XDP for open-access broadband
 fecflow lets several ISPs share one broadband access network: the headend
 classifies each end-user to an ISP and pushes that ISP's MPLS label, core
 routers swap labels, and the tailend pops them and hands the traffic to the
 ISP, all in XDP programs, with per-ISP packet and byte counters for
 Prometheus.
 .
 This package holds the daemon (fecflow.service), the command line, the XDP
 object and the native libbpf binding. The daemon starts once
 /etc/fecflow/router.yaml exists; examples are in
 /usr/share/doc/fecflow/examples/.
CONTROL
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

mkdir -p "$repo/dist-deb"
deb=$repo/dist-deb/fecflow_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
t2=$(date +%s)
echo "$deb ($(du -k "$deb" | cut -f1) KiB; npm ci $((t1 - t0)) s, total $((t2 - t0)) s)"
