# Sourced by scripts/device-check.sh and scripts/device-pretrain.sh on the lent GPU machine:
# unpacks .device-kit/ (scripts/device-kit.sh) into a runnable Node + cldc + Dawn + Vulkan.
kit=.device-kit
out="${OUT:-/tmp/cld-out}"
mkdir -p "$out" /tmp/cld-bin
log="$out/device.log"
say() { echo "device: $*" | tee -a "$log"; }

[ -d "$kit" ] || { echo "device: no $kit here (build it with scripts/device-kit.sh, then carry it)"; exit 1; }
xz -dc "$kit/node.xz" >/tmp/cld-bin/node && chmod +x /tmp/cld-bin/node
for f in $(find "$kit/app" -name "*.xz"); do xz -dkf "$f"; done
for f in "$kit"/debs/*.deb; do dpkg -x "$f" /; done
ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES="$icd"
export XDG_CACHE_HOME=/tmp/cld-cache XDG_RUNTIME_DIR=/tmp/cld-xdg CLD_EMOJI_CACHE_ONLY=1
mkdir -p "$XDG_CACHE_HOME/cld" "$XDG_RUNTIME_DIR"
tar -C "$XDG_CACHE_HOME/cld" -xJf "$kit/emoji-32.tar.xz"
node=/tmp/cld-bin/node
say "node $($node --version); $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"
