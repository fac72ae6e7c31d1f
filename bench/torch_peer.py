"""The PyTorch peer: the same Movie Gen Video block stack as `mgjax.models.video.MovieGenVideo`, written the way a
PyTorch user would (SDPA attention, autocast bf16 over fp32 weights, fused AdamW, `torch.utils.checkpoint`), timed
for the training step, attention and sampling. Needs only torch and numpy; bench scripts run it in a subprocess.

    python bench/torch_peer.py {train_step,attention,sampling} --spec JSON    one JSON row per line on stdout
    python bench/torch_peer.py forward --weights W.npz --inputs X.npz --out Y.npz    (parity: mgjax's weights)

The stack matches mgjax's operation for operation (tests/parity/test_torch_peer.py loads mgjax's weights and compares
the outputs): patchify as a linear map of (1, 2, 2) patches, factorized learnable t/h/w embeddings added before every
block, adaLN-single (a shared timestep MLP plus a per-layer table), RMSNorm -> modulate -> self-attention -> gated
residual, cross-attention to the projected text, RMSNorm -> modulate -> SwiGLU -> gated residual, no biases. The text
here is all valid tokens (the benchmarks' case), so no attention mask is needed and SDPA may pick its flash kernel.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    """fp32 RMS norm without a scale (the backbone's norms have none: adaLN supplies it)."""

    def __init__(self, eps: float):
        super().__init__()
        self.eps = eps

    def forward(self, x):
        x32 = x.float()
        return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype)


def modulate(x, shift, scale):
    return x * (1 + scale[:, None]) + shift[:, None]


class Attention(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(width, width, bias=False) for _ in range(4))
        self.heads = heads

    def forward(self, x, context=None):
        context = x if context is None else context
        b, n, d = x.shape
        split = lambda t: t.view(b, t.shape[1], self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        out = F.scaled_dot_product_attention(split(self.q(x)), split(self.k(context)), split(self.v(context)))
        return self.o(out.transpose(1, 2).reshape(b, n, d))


class SwiGLU(nn.Module):
    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.w1, self.w3 = nn.Linear(width, hidden, bias=False), nn.Linear(width, hidden, bias=False)
        self.w2 = nn.Linear(hidden, width, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, s: dict):
        super().__init__()
        d = s["width"]
        self.attn_norm, self.mlp_norm = RMSNorm(s["eps"]), RMSNorm(s["eps"])
        self.self_attn, self.cross_attn = Attention(d, s["num_heads"]), Attention(d, s["num_heads"])
        self.mlp = SwiGLU(d, s["ffn_width"])
        self.modulation = nn.Parameter(torch.randn(6, d) * d ** -0.5)

    def forward(self, x, pos, shared_mod, text):
        x = x + pos[None].to(x.dtype)
        mod = (shared_mod.float() + self.modulation[None]).to(x.dtype)
        shift1, scale1, gate1, shift2, scale2, gate2 = mod.unbind(1)
        x = x + gate1[:, None] * self.self_attn(modulate(self.attn_norm(x), shift1, scale1))
        x = x + self.cross_attn(x, text)
        return x + gate2[:, None] * self.mlp(modulate(self.mlp_norm(x), shift2, scale2))


def timestep_features(t, dim: int):
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = (t.float() * 1000.0)[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], -1)


class MovieGenVideoTorch(nn.Module):
    def __init__(self, s: dict):
        super().__init__()
        d, (pt, ph, pw), c = s["width"], s["patch"], s["channels"]
        lt, lh, lw = s["latent"]
        self.s = s
        self.patch_embed = nn.Linear(pt * ph * pw * c, d, bias=False)
        self.pos_t = nn.Parameter(torch.randn(lt // pt, d) * 0.02)
        self.pos_h = nn.Parameter(torch.randn(lh // ph, d) * 0.02)
        self.pos_w = nn.Parameter(torch.randn(lw // pw, d) * 0.02)
        self.t_fc1, self.t_fc2 = nn.Linear(s["freq_dim"], d, bias=False), nn.Linear(d, d, bias=False)
        self.shared_mod = nn.Linear(d, 6 * d, bias=False)
        self.text_proj = nn.ModuleList(nn.Linear(w, d, bias=False) for w, _ in s["text"])
        self.text_norm = nn.ModuleList(nn.LayerNorm(d, eps=1e-5) for _ in s["text"])
        self.blocks = nn.ModuleList(Block(s) for _ in range(s["num_layers"]))
        self.final_norm = RMSNorm(s["eps"])
        self.final_modulation = nn.Parameter(torch.randn(2, d) * d ** -0.5)
        self.head = nn.Linear(d, pt * ph * pw * c, bias=False)
        self.checkpoint = s.get("remat", "none") != "none"

    def forward(self, latents, t, text):
        """latents (b, T, H, W, c) fp32, t (b,), text [(b, m, w)] -> velocity (b, T, H, W, c) fp32."""
        (pt, ph, pw), c = self.s["patch"], self.s["channels"]
        b, T, H, W, _ = latents.shape
        nt, nh, nw = T // pt, H // ph, W // pw
        patches = latents.view(b, nt, pt, nh, ph, nw, pw, c).permute(0, 1, 3, 5, 2, 4, 6, 7)
        x = self.patch_embed(patches.reshape(b, nt * nh * nw, pt * ph * pw * c))
        pos = self.pos_t[:nt, None, None] + self.pos_h[None, :nh, None] + self.pos_w[None, None, :nw]
        pos = pos.view(-1, x.shape[-1])
        t_emb = self.t_fc2(F.silu(self.t_fc1(timestep_features(t, self.s["freq_dim"]))))
        shared_mod = self.shared_mod(F.silu(t_emb)).view(b, 6, -1)
        # LayerNorm in fp32 like mgjax's (autocast runs layer_norm in fp32 too)
        tokens = torch.cat([norm(proj(h).float()) for proj, norm, h in zip(self.text_proj, self.text_norm, text)], 1)
        tokens = tokens.to(x.dtype)
        for block in self.blocks:
            if self.checkpoint and torch.is_grad_enabled():
                x = torch.utils.checkpoint.checkpoint(block, x, pos, shared_mod, tokens, use_reentrant=False)
            else:
                x = block(x, pos, shared_mod, tokens)
        shift, scale = (self.final_modulation[None] + t_emb[:, None].float()).unbind(1)
        out = self.head(modulate(self.final_norm(x), shift.to(x.dtype), scale.to(x.dtype))).float()
        out = out.view(b, nt, nh, nw, pt, ph, pw, c).permute(0, 1, 4, 2, 5, 3, 6, 7)
        return out.reshape(b, T, H, W, c)


# ------------------------------------------------------------------------------------- mgjax weights (parity)

def load_mgjax_weights(model: MovieGenVideoTorch, weights: dict[str, np.ndarray]) -> None:
    """Copy a flattened mgjax MovieGenVideo parameter dict ('/'-joined paths; scanned blocks stacked on axis 0) into
    the peer. Flax kernels are (in, out); torch's Linear weights are (out, in)."""
    w = {k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in weights.items()}
    lin = lambda key: w[key].T.contiguous()  # noqa: E731
    with torch.no_grad():
        model.patch_embed.weight.copy_(w["patch_embed/kernel"].reshape(-1, w["patch_embed/kernel"].shape[-1]).T)
        model.pos_t.copy_(w["pos_embed/t"][:model.pos_t.shape[0]])
        model.pos_h.copy_(w["pos_embed/h"][:model.pos_h.shape[0]])
        model.pos_w.copy_(w["pos_embed/w"][:model.pos_w.shape[0]])
        model.t_fc1.weight.copy_(lin("t_embed/fc1/kernel"))
        model.t_fc2.weight.copy_(lin("t_embed/fc2/kernel"))
        model.shared_mod.weight.copy_(lin("shared_mod/proj/kernel"))
        for i, (proj, norm) in enumerate(zip(model.text_proj, model.text_norm)):
            proj.weight.copy_(lin(f"text_proj/{i}/proj/kernel"))
            norm.weight.copy_(w[f"text_proj/{i}/norm/scale"])
            norm.bias.copy_(w[f"text_proj/{i}/norm/bias"])
        for i, block in enumerate(model.blocks):
            layer = lambda key: w[f"blocks/{key}"][i]  # noqa: E731
            block.modulation.copy_(layer("modulation"))
            for name in ("self_attn", "cross_attn"):
                for p in "qkvo":
                    getattr(getattr(block, name), p).weight.copy_(layer(f"{name}/{p}/kernel").T)
            for p in ("w1", "w2", "w3"):
                getattr(block.mlp, p).weight.copy_(layer(f"mlp/{p}/kernel").T)
        model.final_modulation.copy_(w["final_modulation"])
        model.head.weight.copy_(lin("head/kernel"))


def forward_parity(args) -> None:
    weights = dict(np.load(args.weights))
    inputs = dict(np.load(args.inputs))
    spec = json.loads(str(inputs.pop("spec")))
    model = MovieGenVideoTorch(spec)
    load_mgjax_weights(model, weights)
    text = [torch.from_numpy(inputs[f"text{i}"]) for i in range(len(spec["text"]))]
    with torch.no_grad():
        out = model(torch.from_numpy(inputs["latents"]), torch.from_numpy(inputs["t"]), text)
    np.savez(args.out, velocity=out.numpy())


# ---------------------------------------------------------------------------------------------------- timing

def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timeit(fn, warmup: int, repeats: int) -> list[float]:
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return times


def reset_peak():
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_bytes() -> int | None:
    return torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None


def row(name: str, times: list[float], **extra) -> None:
    print(json.dumps({"name": name, "median_s": statistics.median(times), "min_s": min(times),
                      "max_s": max(times), "peak_bytes": peak_bytes(), "torch": torch.__version__,
                      "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu", **extra}),
          flush=True)


def autocast():
    return torch.autocast(device().type, dtype=torch.bfloat16)


def make_inputs(s: dict, batch: int, dev):
    g = torch.Generator(device="cpu").manual_seed(0)
    latent = torch.randn((batch, *s["latent"], s["channels"]), generator=g).to(dev)
    text = [torch.randn((batch, m, w), generator=g).to(dev) for w, m in s["text"]]
    return latent, text


def train_step(s: dict) -> None:
    """Flow-matching loss, backward, global-norm clipping, fused AdamW, EMA: the work of mgjax's step."""
    for compiled in ([False, True] if s.get("compile") else [False]):
        _train_variant(s, compiled)  # its model and optimizer are freed on return


def _train_variant(s: dict, compiled: bool) -> None:
    dev = device()
    reset_peak()
    torch.manual_seed(0)
    model = MovieGenVideoTorch(s).to(dev)
    params = list(model.parameters())
    ema = [p.detach().clone() for p in params]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.01,
                            fused=dev.type == "cuda")
    fwd = torch.compile(model) if compiled else model
    x1, text = make_inputs(s, s["batch"], dev)

    def step():
        t = torch.sigmoid(torch.randn(x1.shape[0], device=dev))
        x0 = torch.randn_like(x1)
        tt = t.view(-1, 1, 1, 1, 1)
        xt = tt * x1 + (1 - (1 - 1e-5) * tt) * x0
        with autocast():
            v = fwd(xt, t, text)
        loss = F.mse_loss(v, x1 - (1 - 1e-5) * x0)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
        opt.step()
        opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            torch._foreach_lerp_(ema, [p.detach() for p in params], 1 - 0.9999)
        return loss

    times = timeit(step, s["warmup"], s["repeats"])
    row("torch.compile" if compiled else "eager", times, loss=float(step().item()))


def attention(s: dict) -> None:
    """SDPA forward and forward+backward per backend on (b, h, n, d) bf16 (torch's layout)."""
    dev = device()
    b, h, n, d = s["batch"], s["heads"], s["tokens"], s["head_dim"]
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    from torch.nn.attention import SDPBackend, sdpa_kernel

    backends = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
                "efficient": SDPBackend.EFFICIENT_ATTENTION} if dev.type == "cuda" else {"math": SDPBackend.MATH}
    g = torch.Generator(device="cpu").manual_seed(0)
    q, k, v = (torch.randn((b, h, n, d), generator=g).to(dev, dtype).requires_grad_() for _ in range(3))
    grad = torch.randn((b, h, n, d), generator=g).to(dev, dtype)
    for name, backend in backends.items():
        reset_peak()
        try:
            with sdpa_kernel(backend):
                fwd = timeit(lambda: F.scaled_dot_product_attention(q, k, v), s["warmup"], s["repeats"])

                def fwd_bwd():
                    out = F.scaled_dot_product_attention(q, k, v)
                    torch.autograd.grad(out, (q, k, v), grad)

                both = timeit(fwd_bwd, s["warmup"], s["repeats"])
        except RuntimeError as e:  # a backend that refuses this shape or device
            print(json.dumps({"name": name, "error": str(e).splitlines()[0][:160]}), flush=True)
            continue
        row(name, fwd, fwd_bwd_median_s=statistics.median(both))


def sampling(s: dict) -> None:
    """50 Euler steps on the given schedule with CFG (conditional and unconditional as one doubled batch)."""
    for compiled in ([False, True] if s.get("compile") else [False]):
        _sampling_variant(s, compiled)


def _sampling_variant(s: dict, compiled: bool) -> None:
    dev = device()
    schedule = torch.tensor(s["schedule"], dtype=torch.float32).tolist()
    reset_peak()
    torch.manual_seed(0)
    model = MovieGenVideoTorch({**s, "remat": "none"}).to(dev).eval()
    fwd = torch.compile(model) if compiled else model
    _, text = make_inputs(s, s["batch"], dev)
    both = [torch.cat([c, torch.zeros_like(c)]) for c in text]
    noise = torch.randn((s["batch"], *s["latent"], s["channels"]), device=dev)

    @torch.no_grad()
    def sample():
        x = noise.clone()
        for t0, t1 in zip(schedule[:-1], schedule[1:]):
            with autocast():
                vv = fwd(torch.cat([x, x]), torch.full((2 * x.shape[0],), t0, device=dev), both)
            vc, vu = vv.float().chunk(2)
            x = x + (t1 - t0) * (vu + s["cfg_scale"] * (vc - vu))
        return x

    row("torch.compile" if compiled else "eager", timeit(sample, 1, s["repeats"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("area", choices=("train_step", "attention", "sampling", "forward"))
    parser.add_argument("--spec", default="{}")
    parser.add_argument("--weights")
    parser.add_argument("--inputs")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.area == "forward":
        return forward_parity(args)
    torch.backends.cuda.matmul.allow_tf32 = True  # what JAX does for fp32 matmuls on GPU by default
    {"train_step": train_step, "attention": attention, "sampling": sampling}[args.area](json.loads(args.spec))


if __name__ == "__main__":
    main()
