#!/usr/bin/env bash
# Set up Sentinel on a fresh Debian/Ubuntu machine and run the main job on the bundled sample data.
#   bash scripts/bootstrap.sh          # set-up + main job (SQLite store in ./out/sentinel.db)
#   bash scripts/bootstrap.sh --setup  # set-up only (used by scripts/test.sh)
# System packages need root (or sudo); without them the script says which to install and goes on.
set -euo pipefail
cd "$(dirname "$0")/.."

# tshark/tcpdump: deep path, live BPF, fidelity tests; iproute2: namespace tests; postgresql: server-mode tests;
# yara: the CLI the content tests compare with; pango + CJK fonts: PDF reports (WeasyPrint) with Chinese text;
# chromium + poppler-utils: the report tests open the HTML in a real browser and read the PDF back as text
SYSTEM_PACKAGES=(tshark tcpdump iproute2 postgresql yara python3-venv libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk
                 chromium poppler-utils)
PY=${PYTHON:-python3}

need_pkgs=()
for p in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo"; else SUDO="none"; fi
  if [ "$SUDO" = none ]; then
    echo "warning: cannot install system packages (${need_pkgs[*]}) without root; run: sudo apt-get install -y ${need_pkgs[*]}" >&2
  else
    echo "installing system packages: ${need_pkgs[*]}" >&2
    $SUDO apt-get update -qq
    # why noninteractive: wireshark-common asks whether non-root users may capture; the default (no) is right
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  fi
fi

"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || { echo "error: Python 3.11 or newer is required ($PY is $("$PY" --version 2>&1))" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e '.[test]'

[ "${1:-}" = "--setup" ] && exit 0

# The main job: the sample city system from evidence to a signed graded report, in a private SQLite store.
mkdir -p out
rm -f out/sentinel.db out/sentinel.db-wal out/sentinel.db-shm   # the demo starts from an empty store each time
export SENTINEL_DB="sqlite:///$PWD/out/sentinel.db"
export SENTINEL_KEY_DIR="$PWD/out/keys"                          # demo keys, kept apart from your own
S=.venv/bin/sentinel
# signing key first: reports are signed and each run's alerts end on a signed ledger checkpoint
[ -s "$SENTINEL_KEY_DIR/ed25519.pem" ] || $S keys init
# the inventory first: it tells which devices are unknown and which Modbus masters are authorised
$S assets import samples/inventory.yaml --replace
# perception + transport: the city capture (MQTT sensors, Modbus PLCs, CoAP nodes, portal traffic, a scan, a tunnel)
$S analyze samples/city.pcap --events out/city-events.jsonl
# application: the portal's access log and the gateway's auth log
$S ingest samples/portal-access.log samples/auth.log --events out/log-events.jsonl
# the system: grading (GB/T 22240), one assessor finding, then the assessment (GB/T 22239/28448)
$S levels grade --system city-ops --parts general,iot --s-object society --s-degree serious \
   --a-object rights --a-degree serious
$S assess record "8.1.10.13 c" --system city-ops --result nonconform --assessor "demo assessor" \
   --evidence "No emergency drill recorded in the last 12 months"
$S assess --system city-ops
# the signed graded report (zh), its verification, and the ledger's
$S report render --system city-ops --format html --lang zh --assessor "Sentinel demo" --out out/city-ops-report.html
$S report verify out/city-ops-report.html
$S ledger verify
echo "report: out/city-ops-report.html (signature out/city-ops-report.html.sig)   store: out/sentinel.db"
