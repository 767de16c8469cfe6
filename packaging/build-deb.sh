#!/usr/bin/env bash
# Build build/runnerd_<version>_<arch>.deb with dpkg-deb, from a fresh release build.
#
#   packaging/build-deb.sh                  build the binary, then the package
#   packaging/build-deb.sh --binary PATH    package a runnerd binary that is already built
#   packaging/build-deb.sh --lintian        also run lintian on the result (installs it if missing);
#                                           exit status 3 when it has findings (the .deb is built)
#
# The version comes from the VERSION file at the repository root (the upstream version) plus the
# Debian revision in $RUNNERD_DEB_REVISION (default 1). The binary links the Swift runtime and
# libstdc++/libgcc statically, so the package depends only on libc6 and libsystemd0 (and on
# procps, for the unit's ExecReload=/bin/kill); the build fails if the binary needs anything else.
# Prints the path of the .deb as its last line, also when lintian fails.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

binary='' run_lintian=0
while [ $# -gt 0 ]; do
    case $1 in
        --binary) binary=$(realpath "$2"); shift 2 ;;
        --lintian) run_lintian=1; shift ;;
        *) echo "usage: $0 [--binary PATH] [--lintian]" >&2; exit 64 ;;
    esac
done

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'build-deb: error: %s\n' "$*" >&2; exit 1; }

upstream=$(tr -d '[:space:]' <VERSION)
[[ $upstream =~ ^[0-9][0-9A-Za-z.+~]*$ ]] || die "VERSION holds '$upstream', not a Debian upstream version"
version=$upstream-${RUNNERD_DEB_REVISION:-1}
arch=$(dpkg --print-architecture)
maintainer=${DEB_MAINTAINER:-"$(git config user.name 2>/dev/null || echo runnerd maintainers) <$(git config user.email 2>/dev/null || echo root@localhost)>"}
# Reproducible dates: the last commit's time unless the caller chose one.
: "${SOURCE_DATE_EPOCH:=$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
export SOURCE_DATE_EPOCH

config=examples/runnerd.yaml
[ -f "$config" ] || die "$config is missing: it becomes the /etc/runnerd/runnerd.yaml conffile"

# ---- the binary
if [ -z "$binary" ]; then
    binary=$(packaging/build-release.sh | tail -n 1)
fi
[ -x "$binary" ] || die "no runnerd binary at $binary"

# ---- the tree
out=$repo/build
stage=$out/deb/runnerd_${version}_$arch
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/etc/runnerd" \
         "$stage/usr/share/doc/runnerd/examples" "$stage/usr/share/man/man1" \
         "$stage/usr/share/lintian/overrides"

install -m 0755 "$binary" "$stage/usr/bin/runnerd"
# Like dh_strip: no symbol tables or build notes in the shipped binary. The Swift metadata
# sections are allocated sections, so they stay.
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/runnerd"

install -m 0644 systemd/runnerd.service systemd/runnerd@.service "$stage/lib/systemd/system/"
install -m 0644 "$config" "$stage/etc/runnerd/runnerd.yaml"

doc=$stage/usr/share/doc/runnerd
install -m 0644 README.md "$doc/README.md"
# The config reference, which the conffile's comments and the units' Documentation= name by this
# path: kept uncompressed, like README.md, so that `less` and `systemctl help` open it as it is.
install -m 0644 docs/config.md "$doc/config.md"
install -m 0644 packaging/debian/copyright "$doc/copyright"
for f in examples/*; do
    [ -f "$f" ] && install -m 0644 "$f" "$doc/examples/"
done
changelog_date=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
sed -e "s|@VERSION@|$version|g" -e "s|@UPSTREAM@|$upstream|g" \
    -e "s|@MAINTAINER@|$maintainer|g" -e "s|@DATE@|$changelog_date|g" \
    packaging/debian/changelog.in | gzip -9n >"$doc/changelog.Debian.gz"
install -m 0644 packaging/debian/lintian-overrides "$stage/usr/share/lintian/overrides/runnerd"
gzip -9n <packaging/runnerd.1 >"$stage/usr/share/man/man1/runnerd.1.gz"

# ---- dependencies, from what the binary really needs
# dpkg-shlibdeps wants a debian/control to read; a throw-away one is enough.
shlib_dir=$(mktemp -d)
trap 'rm -rf "$shlib_dir"' EXIT
mkdir "$shlib_dir/debian"
printf 'Source: runnerd\n\nPackage: runnerd\nArchitecture: any\n' >"$shlib_dir/debian/control"
shlibs=$(cd "$shlib_dir" && dpkg-shlibdeps -O -e"$stage/usr/bin/runnerd" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || die "dpkg-shlibdeps found no dependencies"
extra=$(tr ',' '\n' <<<"$shlibs" | awk '{ print $1 }' | grep -vxE 'libc6|libsystemd0' || true)
[ -z "$extra" ] || die "the binary needs more than libc6 and libsystemd0: $(echo $extra) (is the Swift runtime linked statically?)"
# dpkg-shlibdeps does not know glibc's GLIBC_ABI_DT_RELR version, which packed relocations
# require: the loader of glibc 2.36 and later applies them, an older one refuses the binary.
if readelf -VW "$stage/usr/bin/runnerd" | grep -q 'Name: GLIBC_ABI_DT_RELR'; then
    libc=$(grep -oE 'libc6 \(>= [^)]+\)' <<<"$shlibs" | sed -E 's/.*>= ([^)]+)\)/\1/')
    if [ -z "$libc" ] || dpkg --compare-versions "$libc" lt 2.36; then
        shlibs=$(sed -E 's/libc6( \([^)]*\))?/libc6 (>= 2.36)/' <<<"$shlibs")
    fi
fi
depends="$shlibs, procps"

# ---- control files
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$stage/DEBIAN/"
install -m 0644 packaging/debian/conffiles "$stage/DEBIAN/"
installed_size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s|@VERSION@|$version|g" -e "s|@ARCH@|$arch|g" -e "s|@MAINTAINER@|$maintainer|g" \
    -e "s|@INSTALLED_SIZE@|$installed_size|g" -e "s|@DEPENDS@|$depends|g" \
    packaging/debian/control.in >"$stage/DEBIAN/control"
(cd "$stage" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' |
    LC_ALL=C sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums"

# Every file gets the same time: the package's bytes depend only on its inputs.
find "$stage" -newermt "@$SOURCE_DATE_EPOCH" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +

deb=$out/runnerd_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
log "built $deb ($(du -h "$deb" | cut -f1)); Depends: $depends"

status=0
if [ "$run_lintian" = 1 ]; then
    command -v lintian >/dev/null || {
        apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends lintian >&2
    }
    log "lintian $deb"
    # The package's own overrides carry the accepted findings (see packaging/README.md); any
    # other error or warning fails (info-level findings are printed).
    if lintian --info --display-info --fail-on error,warning "$deb" >&2; then
        log "lintian: no findings beyond the package's overrides"
    else
        echo "build-deb: lintian has findings" >&2
        status=3
    fi
fi
echo "$deb"
exit "$status"
