#!/usr/bin/env bash
# One-time (idempotent) setup: Debian packages from debian-packages.txt, a venv in .venv with the
# CPU build of torch 2.13.0, then this project with every pin from pyproject.toml (extras test and
# ocr-bench: the RapidOCR peer of benchmarks/ocr_vs_peers.py).
# Env: KX_VENV (default .venv), KX_SKIP_APT=1 to skip apt (e.g. no root).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${KX_VENV:-.venv}

missing=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < debian-packages.txt
if (( ${#missing[@]} )) && [[ "${KX_SKIP_APT:-0}" != 1 ]]; then
  echo "[setup] apt-get install ${missing[*]}"
  sudo_cmd=""; [[ $(id -u) != 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [[ ! -x "$venv/bin/python" ]]; then
  echo "[setup] creating $venv"
  python3 -m venv "$venv"
fi
stamp="$venv/.kexue-dist-installed"
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
  echo "[setup] pip install (torch 2.13.0 CPU first, then the pinned project)"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q "torch==2.13.0"
  "$venv/bin/python" -m pip install -q -e ".[test,ocr-bench]"
  touch "$stamp"
fi
