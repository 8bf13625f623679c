#!/usr/bin/env bash
# Checkpoint round trips with PyTorch: a torchvision ResNet50 saved by torch.save is loaded by us (3 channels, and 1
# channel with the RGB stem summed); our forward must match torchvision's, and our safetensors file, read by the
# safetensors package, must load into torchvision's resnet50 (head removed, as PRIOR's encoder) with strict=True.
# Exits 77 (skipped) when torch/torchvision/safetensors cannot be imported.
set -u
tool=$1
python3 -c "import torch, torchvision, safetensors" 2>/dev/null || { echo "torch round trip: torch not available: skipped"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$tool" "$dir" <<'PY'
import subprocess, sys
import torch, torchvision
from safetensors.torch import load_file, save_file

tool, d = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
net = torchvision.models.resnet50()
for m in net.modules():  # non-trivial batch-norm statistics, so eval mode is really tested
    if isinstance(m, torch.nn.BatchNorm2d):
        m.running_mean.uniform_(-0.1, 0.1); m.running_var.uniform_(0.5, 1.5)
        torch.nn.init.uniform_(m.weight, 0.5, 1.5); torch.nn.init.uniform_(m.bias, -0.2, 0.2)
net.eval()
torch.save(net.state_dict(), f"{d}/resnet50.pth")
body = torch.nn.Sequential(*list(net.children())[:-2])  # up to layer4
failures, checks = 0, 0
for stem in ("rgb", "gray"):
    x = torch.randn(2, 3 if stem == "rgb" else 1, 96, 96)
    save_file({"x": x.contiguous()}, f"{d}/x.safetensors")
    subprocess.run([tool, "load", f"{d}/resnet50.pth", f"{d}/x.safetensors", f"{d}/ours.safetensors", stem], check=True)
    ours = load_file(f"{d}/ours.safetensors")
    with torch.no_grad():
        ref = body(x if stem == "rgb" else x.expand(-1, 3, -1, -1))
    err = ((ours.pop("output.layer4") - ref).abs().max() / ref.abs().max()).item()
    ok = err < 1e-4
    failures += not ok
    checks += 1
    print(f"{stem}: layer4 relative error {err:.2e} {'ok' if ok else 'FAIL'}")
    if stem == "rgb":  # our file into torchvision, strict
        tv = torchvision.models.resnet50()
        tv.fc = torch.nn.Identity()
        missing = tv.load_state_dict(ours, strict=True)
        tv.eval()
        with torch.no_grad():
            same = torch.equal(torch.nn.Sequential(*list(tv.children())[:-2])(x), body(x))
        failures += not same
        checks += 1
        print(f"our safetensors -> torchvision resnet50 (strict=True): {'identical outputs' if same else 'FAIL'}")
print(f"torch round trip: {checks - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
PY
