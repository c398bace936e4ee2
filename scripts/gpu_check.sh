#!/usr/bin/env bash
# Hardware detection and `harombe doctor` on a real GPU machine, without pip or internet.
# Run from anywhere inside a copy of the repo. Wheels in .whl/ (if present) are unpacked into
# $HAROMBE_SITE, picking the ones that match this Python; nothing is installed system-wide.
# Exits non-zero when nvidia-smi sees GPUs that harombe.hardware does not.
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
SITE=${HAROMBE_SITE:-/tmp/harombe-site}

echo "== $($PYTHON --version 2>&1) on $(uname -m)"
if [ -d .whl ]; then
    $PYTHON - "$SITE" <<'EOF'
import platform, sys, zipfile
from pathlib import Path

site, minor, arch = Path(sys.argv[1]), sys.version_info.minor, platform.machine()
for wheel in sorted(Path(".whl").glob("*.whl")):
    python_tags, abi, plat = wheel.stem.split("-")[-3:]
    pythons = python_tags.split(".")
    fits_python = "py3" in pythons or f"cp3{minor}" in pythons or (
        abi == "abi3" and any(t.startswith("cp3") and int(t[3:]) <= minor for t in pythons)
    )
    if fits_python and (plat == "any" or plat.endswith(arch)):
        zipfile.ZipFile(wheel).extractall(site)
        print("unpacked", wheel.name)
EOF
fi
export PYTHONPATH="$SITE:$PWD"

echo "== nvidia-smi"
nvidia-smi -L || echo "(nvidia-smi failed)"
nvidia-smi --query-gpu=index,name,memory.total,memory.free,utilization.gpu,driver_version \
    --format=csv 2>/dev/null
SMI_GPUS=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')

echo "== harombe.hardware"
$PYTHON - "$SMI_GPUS" <<'EOF' || exit 1
import json, sys
from dataclasses import asdict
from harombe.hardware import detect, recommend

info = detect()
print("summary:", json.dumps(info.summary()))
print(json.dumps(asdict(info), indent=2))
print("usable_memory_bytes:", info.usable_memory_bytes())
print("recommendation:", json.dumps(asdict(recommend(info))))
if int(sys.argv[1]) != sum(g.vendor == "nvidia" for g in info.gpus):
    sys.exit(f"MISMATCH: nvidia-smi lists {sys.argv[1]} GPUs, detect() found {len(info.gpus)}")
EOF

echo "== doctor (no backend)"
$PYTHON - <<'EOF'
import asyncio
from rich.console import Console
from harombe.cli.doctor import render, run_doctor
from harombe.config import HarombeConfig

report = asyncio.run(run_doctor(HarombeConfig.model_validate({"backend": {"kind": "none"}}), None))
render(report, Console(width=110))
print(report.as_json())
EOF
