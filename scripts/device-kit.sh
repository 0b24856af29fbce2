#!/usr/bin/env bash
# Builds .device-kit/: what `cldc train` needs on a machine that has a GPU but no Node, no
# npm registry and no internet (the lent GPU machine; see docs/base-model.md "On a GPU
# machine"). Everything is compressed to fit the 64 MiB the repo and the kit may take:
#   node.xz                    this machine's Node binary
#   app/cldc.mjs.xz            cldc bundled into one file (esbuild), externals beside it
#   app/device-tests.mjs.xz    the GPU op and kernel tests, with a vitest stand-in
#   app/node_modules/webgpu    dawn.node (xz), @resvg/resvg-js (+ native binding, xz),
#   app/node_modules/@iconify-json/<set>   package.json + icons.json without SVG bodies
#   emoji-32.tar.xz            the 32×32 raster cache of every set (no SVG rendering there)
#   debs/                      Vulkan loader, glvnd (NVIDIA's ICD needs it), a font; dpkg -x there
# The SVG bodies stay behind, so the run there sets CLD_EMOJI_CACHE_ONLY: an icon missing
# from the cache is an error, never an empty image.
set -euo pipefail
cd "$(dirname "$0")/.."
kit=.device-kit
rm -rf "$kit"
mkdir -p "$kit/app/node_modules/@resvg" "$kit/app/node_modules/@iconify-json" "$kit/debs"

echo "device-kit: filling the 32×32 emoji raster cache (rasterizes only what is missing)"
npx tsx -e 'import("./data/emoji.ts").then((m) => m.pretrainCorpus({ size: 32 }))' >/dev/null

echo "device-kit: bundling cldc"
npx esbuild scripts/device-entry.ts --bundle --platform=node --format=esm --target=node20 \
  --external:webgpu --external:@resvg/resvg-js --log-level=warning --outfile="$kit/app/cldc.mjs"
npx esbuild scripts/device-test/entry.ts --bundle --platform=node --format=esm --target=node20 \
  --external:webgpu --external:@resvg/resvg-js --alias:vitest=./scripts/device-test/vitest-shim.ts \
  --log-level=warning --outfile="$kit/app/device-tests.mjs"
xz -T0 -6 "$kit/app/cldc.mjs" "$kit/app/device-tests.mjs"

echo "device-kit: native modules"
mkdir -p "$kit/app/node_modules/webgpu/dist/linux-x64"
cp node_modules/webgpu/index.js node_modules/webgpu/package.json "$kit/app/node_modules/webgpu/"
xz -T0 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node >"$kit/app/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
cp -r node_modules/@resvg/resvg-js node_modules/@resvg/resvg-js-linux-x64-gnu "$kit/app/node_modules/@resvg/"
for f in "$kit"/app/node_modules/@resvg/resvg-js-linux-x64-gnu/*.node; do xz -T0 -6 "$f"; done

echo "device-kit: icon set indexes (names only)"
for dir in node_modules/@iconify-json/*; do
  set_name=$(basename "$dir")
  mkdir -p "$kit/app/node_modules/@iconify-json/$set_name"
  cp "$dir/package.json" "$kit/app/node_modules/@iconify-json/$set_name/"
  node -e '
    const fs = require("fs");
    const j = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    for (const icon of Object.values(j.icons)) icon.body = "";
    fs.writeFileSync(process.argv[2], JSON.stringify(j));
  ' "$dir/icons.json" "$kit/app/node_modules/@iconify-json/$set_name/icons.json"
done

echo "device-kit: emoji raster cache, Node, Vulkan loader"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/cld"
tar -C "$cache" -cf - $(cd "$cache" && ls emoji/*-32.bin emoji/*-32.json) | xz -T0 -6 >"$kit/emoji-32.tar.xz"
xz -T0 -6 -c "$(readlink -f "$(command -v node)")" >"$kit/node.xz"
# NVIDIA's Vulkan driver lives in libGLX_nvidia.so.0, which hands out no vkCreateInstance
# without the GL vendor-neutral dispatch libraries (glvnd): the loader then reports "Found
# no drivers" (seen on the lent H100, 2026-11-26). Take them along with the loader.
# fonts-dejavu-core: that machine has no fonts, and resvg draws charts without labels then.
debs="libvulkan1 libglvnd0 libglx0 libgl1 libegl1 libopengl0 libgles2 fonts-dejavu-core"
(cd "$kit/debs" && { apt-get download $debs >/dev/null 2>&1 || { apt-get update -qq && apt-get download $debs >/dev/null; }; })

du -sh "$kit"
echo "device-kit: done; the GPU run carries it: run(command: 'bash scripts/device-pretrain.sh', carry: ['$kit'])"
echo "            (or 'bash scripts/device-check.sh' for the GPU tests alone)"
