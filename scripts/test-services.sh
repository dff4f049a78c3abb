#!/usr/bin/env bash
# Installs the real components the suite starts on loopback (redis-server, PostgreSQL,
# Chromium with CJK fonts, Node deps). Needs root for apt-get; on a machine that already has them it does nothing.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null || need+=(chromium)
# CJK fonts so that the console's browser-test screenshots are readable
ls /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc >/dev/null 2>&1 || need+=(fonts-noto-cjk)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing ${need[*]}: install them (sudo apt-get install ${need[*]}) or the tests that need them fail" >&2
  fi
fi
if [ -f tests/wechaty_server/package.json ] && [ ! -d tests/wechaty_server/node_modules ]; then
  (cd tests/wechaty_server && npm install --no-audit --no-fund --loglevel=error)
fi
