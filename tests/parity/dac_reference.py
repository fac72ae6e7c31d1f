"""The torch side of the DAC-VAE parity test: tiny random `transformers` DacModels (seeded), in the parity
environment (.venv-parity), talking to the test through files only.

    python tests/parity/dac_reference.py WORKDIR

reads WORKDIR/spec.json (sizes, the input audio's length) and WORKDIR/inputs.npz (audio (1, 1, n), latents (1, c, m));
writes, for an encoder model (hidden_size = 2 x latent channels: the mean and log-variance) and a decoder model
(hidden_size = latent channels):
  hf_weightnorm.safetensors   DacModel with weight norm as torch's parametrization (g made to differ from |v|)
  hf_plain.safetensors        the same weights with weight norm removed (plain `weight`)
  dac_layout.safetensors      the same, renamed to descript-audio-codec's own layout (`weight_g` / `weight_v`)
  outputs.npz                 encoder(audio) before the quantiser, decoder(latents); and for the losses: transformers'
                              Slaney mel filterbanks and torch.stft magnitudes (centred, reflect, periodic Hann,
                              hop window / 4) of the audio at DAC's mel-loss scales, and the multi-scale mel distance
                              (audiotools' formula) between the audio and a distorted copy of it
"""

from __future__ import annotations

import json
import pathlib
import re
import sys

import numpy as np
import torch
from safetensors.torch import save_file
from torch.nn.utils import parametrize
from transformers import DacConfig, DacModel
from transformers.audio_utils import mel_filter_bank

MEL_WINDOWS = (32, 64, 128, 256, 512, 1024, 2048)
MEL_BINS = (5, 10, 20, 40, 80, 160, 320)


def build(spec: dict, hidden: int, seed: int) -> DacModel:
    torch.manual_seed(seed)
    cfg = DacConfig(encoder_hidden_size=spec["encoder_dim"], downsampling_ratios=spec["strides"],
                    upsampling_ratios=spec["strides"][::-1], decoder_hidden_size=spec["decoder_dim"],
                    hidden_size=hidden, n_codebooks=2, codebook_size=16, codebook_dim=4,
                    sampling_rate=spec["sample_rate"])
    model = DacModel(cfg).eval()
    model.apply_weight_norm()
    with torch.no_grad():  # move every parameter off its initial value, so nothing matches by accident
        for name, p in model.named_parameters():
            if name.endswith("alpha") or name.endswith("original0"):
                p.mul_(torch.empty_like(p).uniform_(0.5, 1.5))
            elif name.endswith("bias"):
                p.add_(0.05 * torch.randn_like(p))
    return model


def dac_layout(state: dict[str, torch.Tensor], num_blocks: int) -> dict[str, torch.Tensor]:
    """transformers' keys -> descript-audio-codec's nn.Sequential indices, weight norm as `weight_g` / `weight_v`."""
    out = {}
    for key, value in state.items():
        k = key.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1",
                                                                                 "weight_v")
        k = re.sub(r"res_unit(\d)\.(snake1|conv1|snake2|conv2)",
                   lambda m: f"RU{m[1]}.block.{('snake1', 'conv1', 'snake2', 'conv2').index(m[2])}", k)
        k = re.sub(r"^encoder\.block\.(\d+)\.RU(\d)", lambda m: f"encoder.block.{int(m[1]) + 1}.block.{int(m[2]) - 1}",
                   k)
        k = re.sub(r"^encoder\.block\.(\d+)\.snake1", lambda m: f"encoder.block.{int(m[1]) + 1}.block.3", k)
        k = re.sub(r"^encoder\.block\.(\d+)\.conv1", lambda m: f"encoder.block.{int(m[1]) + 1}.block.4", k)
        k = re.sub(r"^decoder\.block\.(\d+)\.RU(\d)", lambda m: f"decoder.model.{int(m[1]) + 1}.block.{int(m[2]) + 1}",
                   k)
        k = re.sub(r"^decoder\.block\.(\d+)\.snake1", lambda m: f"decoder.model.{int(m[1]) + 1}.block.0", k)
        k = re.sub(r"^decoder\.block\.(\d+)\.conv_t1", lambda m: f"decoder.model.{int(m[1]) + 1}.block.1", k)
        k = re.sub(r"^encoder\.conv1", "encoder.block.0", k)
        k = re.sub(r"^encoder\.snake1", f"encoder.block.{num_blocks + 1}", k)
        k = re.sub(r"^encoder\.conv2", f"encoder.block.{num_blocks + 2}", k)
        k = re.sub(r"^decoder\.conv1", "decoder.model.0", k)
        k = re.sub(r"^decoder\.snake1", f"decoder.model.{num_blocks + 1}", k)
        k = re.sub(r"^decoder\.conv2", f"decoder.model.{num_blocks + 2}", k)
        out[k] = value
    return out


def save(model: DacModel, out: pathlib.Path, name: str, num_blocks: int) -> None:
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / f"{name}_hf_weightnorm.safetensors"))
    save_file(dac_layout(state, num_blocks), str(out / f"{name}_dac_layout.safetensors"))
    # DacModel.remove_weight_norm calls the old API on parametrized modules (transformers 5.23), so remove them here
    for module in model.modules():
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / f"{name}_hf_plain.safetensors"))


def main(work: pathlib.Path) -> None:
    spec = json.loads((work / "spec.json").read_text())
    inputs = np.load(work / "inputs.npz")
    n = len(spec["strides"])
    encoder = build(spec, 2 * spec["latent_channels"], seed=0)
    decoder = build(spec, spec["latent_channels"], seed=1)
    with torch.no_grad():
        moments = encoder.encoder(torch.from_numpy(inputs["audio"])).numpy()
        audio = decoder.decoder(torch.from_numpy(inputs["latents"])).numpy()
    save(encoder, work, "encoder", n)
    save(decoder, work, "decoder", n)
    sr = spec["sample_rate"]
    x = torch.from_numpy(inputs["audio"][:, 0].astype(np.float64))
    y = torch.from_numpy(inputs["distorted"][:, 0].astype(np.float64))
    losses, distance = {}, 0.0
    for window, bins in zip(MEL_WINDOWS, MEL_BINS):
        bank = torch.from_numpy(mel_filter_bank(window // 2 + 1, bins, 0.0, sr / 2, sr, norm="slaney",
                                                mel_scale="slaney"))
        stft = lambda a: torch.stft(a, window, window // 4, window=torch.hann_window(window, dtype=torch.float64),
                                    center=True, pad_mode="reflect", return_complex=True).abs().transpose(1, 2)
        losses[f"bank_{window}"] = bank.numpy()
        losses[f"stft_{window}"] = stft(x).numpy()
        mel = lambda a: torch.log10((stft(a) @ bank).clamp(min=1e-5))
        distance += float((mel(y) - mel(x)).abs().mean())
    np.savez(work / "outputs.npz", moments=moments, audio=audio, mel_distance=distance, **losses)


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
