#!/usr/bin/env bash
# Installs what is missing before `npm run demo` or `npm test`: Debian packages (as root, or prints the
# exact apt line to run), then the npm dependencies when package-lock.json changed since the last install.
set -euo pipefail
mode=${1:-test}
cd "$(dirname "$0")/.."

# Packages each mode needs. libpcap-dev only enables live capture (the `cap` addon), so the demo runs without it.
case "$mode" in
  demo) required=(); optional=(libpcap-dev) ;;
  test) required=(libpcap-dev tshark fail2ban fping oping iputils-ping openssl iproute2 chromium); optional=() ;;
  bench) required=(libpcap-dev tshark fail2ban fping softflowd tcpdump tcpreplay python3 python3-psutil); optional=() ;;
  ci) required=(libpcap-dev tshark fail2ban fping oping iputils-ping openssl softflowd tcpdump tcpreplay python3 python3-psutil iproute2 docker-compose chromium); optional=() ;;
  *) echo "setup.sh: unknown mode '$mode' (demo|test|bench|ci)" >&2; exit 2 ;;
esac

missing() {
  local out=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || out+=("$p")
  done
  echo "${out[@]:-}"
}

need=$(missing "${required[@]:-}")
want=$(missing "${optional[@]:-}")
if [[ -n "$need$want" ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian packages: $need $want" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $need $want >/dev/null || { [[ -z "$need" ]] || exit 1; }
  elif [[ -n "$need" ]]; then
    echo "setup: missing Debian packages. Run as root:" >&2
    echo "  apt-get install -y $need" >&2
    exit 1
  else
    echo "setup: optional packages not installed ($want): live capture is disabled. To enable it: apt-get install -y $want" >&2
  fi
fi

stamp=node_modules/.netwatch-setup-stamp
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$lock_hash" ]]; then
  echo "setup: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund
  echo "$lock_hash" > "$stamp"
fi
