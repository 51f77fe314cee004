#!/usr/bin/env bash
# The system packages the tests need, from Debian's archive. Run by `make test`, `make test-fast` and
# `.ci/run`; tests never skip because one of these is missing.
#
#   bash scripts/system-deps.sh           install what is missing (apt-get, as root), else stop
#   bash scripts/system-deps.sh --check   only check: exit 1 and print the command if something is missing
#
# Each package is detected by the file it provides, so a machine that has everything does no apt-get
# at all (not even `apt-get update`). When something is missing and this script cannot install it
# (not root, no apt-get, or --check), it stops at once and prints the exact command to run.
set -euo pipefail

# Debian package | what it gives the tests | how it is detected (cmd:NAME on PATH, file:PATH, lib:SONAME,
# java: a `java -version` that runs).
PACKAGES=(
  # tests/dashboard/test_browser.py drives /usr/bin/chromium through Playwright (never a downloaded browser).
  "chromium|the browser test|file:/usr/bin/chromium"
  # tests/reports/test_reports.py reads the report PDF with pdftotext, pdftoppm and pdffonts.
  "poppler-utils|the PDF report test|cmd:pdftotext cmd:pdftoppm cmd:pdffonts"
  # WeasyPrint (PDF reports) loads Pango through cffi.
  "libpango-1.0-0|PDF reports (WeasyPrint)|lib:libpango-1.0.so.0"
  "libpangoft2-1.0-0|PDF reports (WeasyPrint)|lib:libpangoft2-1.0.so.0"
  # The bundled NanumGothic lacks some symbols the reports and dashboard print (U+2212 minus sign):
  # Pango and chromium fall back to a system sans-serif font for those.
  "fonts-dejavu-core|a fallback font for symbols NanumGothic lacks|file:/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
  # tests/notify/test_campaign.py makes a throw-away TLS certificate for the STARTTLS test.
  "openssl|the STARTTLS test|cmd:openssl"
  # A Java runtime for the planned Spark back-end; any working `java` (e.g. an installed JDK 17) counts.
  "default-jre-headless|the Spark back-end|java"
)

check_only=0
case "${1:-}" in
  "") ;;
  --check) check_only=1 ;;
  *)
    echo "usage: bash scripts/system-deps.sh [--check]" >&2
    exit 2
    ;;
esac

# ldconfig lives in /sbin, which is not on an ordinary user's PATH.
ldconfig_bin=$(command -v ldconfig || echo /sbin/ldconfig)
shared_libs=""

has() {
  local probe=$1
  case "$probe" in
    cmd:*) command -v "${probe#cmd:}" >/dev/null 2>&1 ;;
    file:*) [ -e "${probe#file:}" ] ;;
    lib:*)
      # Read the cache once into a variable: `ldconfig -p | grep -q` can fail under pipefail when
      # grep exits early and ldconfig gets SIGPIPE.
      if [ -z "$shared_libs" ]; then
        shared_libs=$("$ldconfig_bin" -p 2>/dev/null || true)
      fi
      [[ "$shared_libs" == *"${probe#lib:} "* ]]
      ;;
    java) java -version >/dev/null 2>&1 ;;
    *)
      echo "system-deps: unknown probe '$probe'" >&2
      exit 2
      ;;
  esac
}

# Fills the global `missing` (package names) and `missing_why` (what needs them).
find_missing() {
  missing=()
  missing_why=()
  local entry name why probes probe
  for entry in "${PACKAGES[@]}"; do
    IFS='|' read -r name why probes <<<"$entry"
    for probe in $probes; do
      if ! has "$probe"; then
        missing+=("$name")
        missing_why+=("$name (${why})")
        break
      fi
    done
  done
}

find_missing
if [ ${#missing[@]} -eq 0 ]; then
  echo "system-deps: all ${#PACKAGES[@]} system packages present (${PACKAGES[*]%%|*})"
  exit 0
fi

is_root=0
[ "$(id -u)" = "0" ] && is_root=1
has_apt=0
command -v apt-get >/dev/null 2>&1 && has_apt=1

if [ "$check_only" = 1 ] || [ "$is_root" = 0 ] || [ "$has_apt" = 0 ]; then
  {
    printf -v listing '%s, ' "${missing_why[@]}"
    echo "system-deps: missing ${listing%, }"
    if [ "$has_apt" = 0 ]; then
      echo "system-deps: no apt-get on this machine; install these Debian packages' equivalents: ${missing[*]}"
    elif [ "$is_root" = 1 ]; then
      echo "system-deps: run:  bash scripts/system-deps.sh   (or: apt-get update && apt-get install -y --no-install-recommends ${missing[*]})"
    else
      echo "system-deps: run:  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
    fi
  } >&2
  exit 1
fi

installing=("${missing[@]}")
echo "system-deps: installing ${installing[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
if [[ " ${missing[*]} " == *" default-jre-headless "* ]]; then
  # Slim Debian images drop /usr/share/man, and the JRE's postinst fails without this folder.
  mkdir -p /usr/share/man/man1
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# The packages must now provide what the tests use; say so loudly if one did not.
shared_libs=""
hash -r
find_missing
if [ ${#missing[@]} -gt 0 ]; then
  printf -v listing '%s, ' "${missing_why[@]}"
  echo "system-deps: still missing after apt-get install: ${listing%, }" >&2
  exit 1
fi
echo "system-deps: installed ${installing[*]}; all ${#PACKAGES[@]} system packages present"
