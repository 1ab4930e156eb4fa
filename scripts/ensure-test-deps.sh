#!/usr/bin/env bash
# Installs what `npm test` needs on a fresh Debian machine, and nothing when it is already there:
# Debian's Chromium (Playwright drives it; `npx playwright install` cannot download browsers here)
# and the Vulkan loader (WebGPU through Dawn + SwiftShader in Node), then the npm packages.
# Runs as npm's `pretest` hook, and so from `.ci/run`.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need_apt+=(chromium)
ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' || need_apt+=(libvulkan1)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: the tests need these Debian packages: ${need_apt[*]}; install them with" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${need_apt[*]}" >&2
    exit 1
  fi
  echo "installing ${need_apt[*]} (apt)…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# npm packages: installed when missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

if [ ! -d ../shared/fixtures ]; then
  echo "error: ../shared/fixtures is missing (the conformance fixtures the tests compare against)" >&2
  exit 1
fi
