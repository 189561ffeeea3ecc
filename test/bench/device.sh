#!/usr/bin/env bash
# The speed comparison on a real GPU in one run: our engine through dawn.node on the card's own
# Vulkan driver (f16 and f32 compute), beside llama.cpp on every CPU core, on the same
# random-weight models as `npm run bench:compare` (written into test/.cache/bench first). No
# Chromium and no network: only the repository and its node_modules. The report names the card
# and gives each contender's decode GB/s as a fraction of the card's memory bandwidth (its data
# sheet figure where the table knows the card, and a measured copy bandwidth in any case).
#
#   test/bench/device.sh [bench:compare options, e.g. --quick or --json]
#
# The driver is the first Vulkan ICD file found that is not a software one; set
# LAYERWISE_GPU_ICD=/path/to/icd.json to choose (LAYERWISE_GPU_ICD=/usr/share/vulkan/icd.d/lvp_icd.json
# rehearses the script on lavapipe, which the report then names as CPU-backed).
set -euo pipefail
cd "$(dirname "$0")/../.."

icd="${LAYERWISE_GPU_ICD:-}"
if [ -z "$icd" ]; then
  for f in /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json; do
    [ -f "$f" ] || continue
    case "$(basename "$f")" in
      lvp_icd*|*swiftshader*) continue ;;
    esac
    icd="$f"
    break
  done
fi
if [ -z "$icd" ] || [ ! -f "$icd" ]; then
  echo "No Vulkan driver for a GPU found in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d;" \
    "install the card's Vulkan driver or set LAYERWISE_GPU_ICD to its ICD file." >&2
  exit 1
fi
if [ ! -d node_modules/webgpu ] || [ ! -d node_modules/node-llama-cpp ]; then
  echo "node_modules lacks webgpu or node-llama-cpp: run npm ci first." >&2
  exit 1
fi
echo "Vulkan driver: $icd" >&2
export VK_ICD_FILENAMES="$icd"
threads="$(nproc)"
exec node --import ./src/cli/register.mjs test/bench/compare.ts \
  --contenders "gpu-f16,gpu-f32,llama.cpp-${threads}t" "$@"
