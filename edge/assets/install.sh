#!/usr/bin/env bash
# Install the detector from this bundle: venv + edge + model + config + systemd unit.
# Idempotent: a second run changes nothing. Settings (environment):
#   PREFIX=/opt/edge        venv, wheel, docs
#   ETC_DIR=/etc/edge       config.yaml, model, labels
#   UNIT_DIR=/etc/systemd/system
#   NO_SYSTEMD=1            skip user creation and systemctl (containers, tests)
#   DRY_RUN=1               print what would be done, change nothing
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PREFIX="${PREFIX:-/opt/edge}"
ETC_DIR="${ETC_DIR:-/etc/edge}"
UNIT_DIR="${UNIT_DIR:-/etc/systemd/system}"
NO_SYSTEMD="${NO_SYSTEMD:-0}"
DRY_RUN="${DRY_RUN:-0}"
PYTHON="${PYTHON:-python3}"
changed=0

say() { echo "install: $*"; }
run() {
  if [ "$DRY_RUN" = 1 ]; then echo "would run: $*"; else "$@"; fi
}
put() {  # put SRC DEST MODE: copy only when different
  local src="$1" dest="$2" mode="$3"
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    say "unchanged $dest"
  else
    run install -D -m "$mode" "$src" "$dest"
    say "wrote $dest"; changed=1
  fi
}

# The interpreter: LiteRT where it has wheels (64-bit), tflite-runtime on 32-bit images.
case "$(uname -m)" in
  armv7l|armv6l) RUNTIME_EXTRA="[tflite-runtime]" ;;
  *) RUNTIME_EXTRA="" ;;
esac

WHEEL="$(ls "$HERE"/edge_detect-*.whl | head -n 1)"
VENV="$PREFIX/venv"
if [ -x "$VENV/bin/python" ]; then
  say "unchanged $VENV"
else
  # system site packages: picamera2 and libcamera come from Raspberry Pi OS's apt
  run "$PYTHON" -m venv --system-site-packages "$VENV"
  say "created $VENV"; changed=1
fi
STAMP="$PREFIX/.installed-wheel"
WHEEL_SUM="$(sha256sum "$WHEEL" | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WHEEL_SUM" ]; then
  say "unchanged edge package ($(basename "$WHEEL"))"
else
  run "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${WHEEL}${RUNTIME_EXTRA}"
  if [ "$DRY_RUN" != 1 ]; then echo "$WHEEL_SUM" > "$STAMP"; fi
  say "installed $(basename "$WHEEL")${RUNTIME_EXTRA}"; changed=1
fi

for f in "$HERE"/payload/*; do
  put "$f" "$ETC_DIR/$(basename "$f")" 0644
done

# The unit names the real paths of this install.
UNIT_TMP="$(mktemp)"
sed -e "s#/opt/edge/venv#$VENV#g" -e "s#/etc/edge/config.yaml#$ETC_DIR/config.yaml#g" \
    -e "s#/opt/edge/docs#$PREFIX/docs#g" "$HERE/edge.service" > "$UNIT_TMP"
unit_before=$changed
put "$UNIT_TMP" "$UNIT_DIR/edge.service" 0644
rm -f "$UNIT_TMP"

if [ "$NO_SYSTEMD" = 1 ]; then
  say "NO_SYSTEMD=1: not creating the edge user or enabling the service"
else
  if ! id edge >/dev/null 2>&1; then
    run useradd --system --home-dir /var/lib/edge --shell /usr/sbin/nologin edge
    changed=1
  fi
  for g in video gpio plugdev; do
    if getent group "$g" >/dev/null && ! id -nG edge 2>/dev/null | grep -qw "$g"; then
      run usermod -aG "$g" edge; changed=1
    fi
  done
  if [ "$changed" != "$unit_before" ] || ! systemctl is-enabled --quiet edge.service 2>/dev/null; then
    run systemctl daemon-reload
    run systemctl enable --now edge.service
    run systemctl restart edge.service
  fi
fi

if grep -q "delegate: *edgetpu" "$ETC_DIR/config.yaml" 2>/dev/null && ! ldconfig -p | grep -q libedgetpu; then
  say "this config uses the Edge TPU but libedgetpu is missing: add Coral's apt repository"
  say "(https://coral.ai/software/#debian-packages) and run: sudo apt-get install libedgetpu1-std"
fi
if [ "$changed" = 0 ]; then say "nothing to do: already installed"; else say "done"; fi
say "verify with: $VENV/bin/edge doctor --config $ETC_DIR/config.yaml"
