"""Golden values for the vision-language projectors (include/psalm/models/projector/), computed
with a PyTorch composition of nn.Conv2d / nn.BatchNorm2d / nn.Linear / nn.GELU in float64 from
float32-representable inputs and weights, written to tests/fixtures/projector/. CI never runs this;
rerun it after changing a case and commit the output:

    tools/reference/.venv/bin/python tools/reference/projector_fixtures.py

The swin_conv block mirrors PSALM's builder.py (ResNetSwin / BasicBlock.forward, zamling/PSALM
@ d5dbfda): conv1 3x3/2 -> bn1 -> ReLU -> conv2 -> conv2 (same weights) -> bn2; shortcut
1x1/2 conv -> BN; add; ReLU; flatten row-major; fc. Written here from that description.

Each <case>.safetensors holds
  model.mm_projector.<name>   the weights and buffers before the step (upstream names)
  res5 / features             the input
  loss_weight                 R: the scalar loss is sum(tokens * R)
  tokens                      the output
  grad.res5 / grad.features   d loss / d input
  grad.<name>                 d loss / d parameter (full upstream name)
  after.<name>                buffers after the forward (train mode: running statistics)
and psalm_state_dict.json lists the names and shapes of the released-size swin_conv projector.
"""
import json
import pathlib

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

torch.set_num_threads(1)
OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "projector"
PREFIX = "model.mm_projector."
D = torch.float64


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, twice):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride=2, bias=False),
                                        nn.BatchNorm2d(planes))
        self.twice = twice

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.conv2(out)
        if self.twice:
            out = self.conv2(out)
        out = self.bn2(out)
        return F.relu(out + self.downsample(x))


class SwinConv(nn.Module):
    def __init__(self, cin, planes, out_dim, twice=True):
        super().__init__()
        self.layer1 = nn.Sequential(BasicBlock(cin, planes, twice))
        self.fc = nn.Linear(planes, out_dim)

    def forward(self, x):
        y = self.layer1(x)
        y = y.reshape(y.shape[0], y.shape[1], -1).permute(0, 2, 1)
        return self.fc(y)


def tokens_of(x):
    return x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1) if x.dim() == 4 else x


class TokenSequential(nn.Sequential):
    def forward(self, x):
        return super().forward(tokens_of(x))


class TokenLinear(nn.Linear):
    def forward(self, x):
        return super().forward(tokens_of(x))


def f32(t):
    """float32-representable float64 values: psalm's float32 run sees exactly the same numbers."""
    return t.float().double()


def randomise(model, gen):
    """Every parameter and BN buffer gets non-trivial float32-representable values."""
    def rand(shape, scale, shift=0.0):
        return f32(shift + scale * torch.randn(shape, generator=gen, dtype=D))

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(rand(m.weight.shape, 0.2, 1.0))
                m.bias.copy_(rand(m.bias.shape, 0.1))
                m.running_mean.copy_(rand(m.running_mean.shape, 0.3))
                m.running_var.copy_(f32(0.5 + torch.rand(m.running_var.shape, generator=gen, dtype=D)))
                m.num_batches_tracked.fill_(3)
            elif isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.copy_(rand(m.weight.shape, 1.0 / m.weight[0].numel() ** 0.5))
                if m.bias is not None:
                    m.bias.copy_(rand(m.bias.shape, 0.1))


def run_case(name, model, x, train, input_name, gen):
    model = model.to(D)
    randomise(model, gen)
    model.train(train)
    out = {PREFIX + k: v.detach().clone() for k, v in model.state_dict().items()}
    x = f32(x).requires_grad_(True)
    tokens = model(x)
    r = f32(torch.randn(tokens.shape, generator=gen, dtype=D))
    (tokens * r).sum().backward()
    out[input_name] = x.detach()
    out["loss_weight"] = r
    out["tokens"] = tokens.detach()
    out["grad." + input_name] = x.grad
    for k, p in model.named_parameters():
        out["grad." + PREFIX + k] = p.grad
    for k, b in model.named_buffers():
        out["after." + PREFIX + k] = b.detach().clone()
    tensors = {k: (v.float() if k.startswith(PREFIX) or k in (input_name, "loss_weight") else v)
               .contiguous() for k, v in out.items()}
    # num_batches_tracked is int64 upstream; psalm keeps buffers in the model's float type.
    tensors = {k: (v.to(torch.float64) if v.dtype == torch.int64 else v) for k, v in tensors.items()}
    save_file(tensors, str(OUT / f"{name}.safetensors"))
    print(f"{name}: tokens {tuple(tokens.shape)}, {len(tensors)} tensors")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(20240)
    cin, planes, out_dim = 16, 20, 24
    # Train mode: batch statistics, running-statistics update, a batch of 2 on an 8x8 map.
    run_case("swin_conv_train", SwinConv(cin, planes, out_dim), torch.randn(2, cin, 8, 8, generator=gen, dtype=D),
             True, "res5", gen)
    # Eval mode: running statistics; odd map 7x5 -> a 4x3 token grid.
    run_case("swin_conv_eval", SwinConv(cin, planes, out_dim), torch.randn(2, cin, 7, 5, generator=gen, dtype=D),
             False, "res5", gen)
    # The textbook block (conv2 once), eval mode.
    run_case("swin_conv_once", SwinConv(cin, planes, out_dim, twice=False),
             torch.randn(1, cin, 6, 6, generator=gen, dtype=D), False, "res5", gen)
    # LLaVA's projectors on a (2, 16, 3, 4) map (flattened to 12 tokens) and on tokens.
    run_case("mlp2x_gelu", TokenSequential(nn.Linear(cin, out_dim), nn.GELU(), nn.Linear(out_dim, out_dim)),
             torch.randn(2, cin, 3, 4, generator=gen, dtype=D), True, "features", gen)
    run_case("linear", TokenLinear(cin, out_dim), torch.randn(2, 5, cin, generator=gen, dtype=D), True,
             "features", gen)
    # The tiny swin_conv config the component and CLI tests read.
    (OUT / "swin_conv_tiny_config.json").write_text(json.dumps(
        {"mm_projector_type": "swin_conv", "mm_input_embeds": cin, "swin_conv_planes": planes,
         "projector_outdim": out_dim}, indent=2) + "\n")
    # Names and shapes of the released projector (ResNetSwin(1024 -> 2048), fc 2048 -> 2048).
    with torch.device("meta"):
        full = SwinConv(1024, 2048, 2048)
    names = [[PREFIX + k, list(v.shape)] for k, v in full.state_dict().items()]
    (OUT / "psalm_state_dict.json").write_text(json.dumps(names, indent=1) + "\n")
    print(f"psalm_state_dict.json: {len(names)} tensors")


if __name__ == "__main__":
    main()
