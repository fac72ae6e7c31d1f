"""Chunked DAC-VAE encode and decode: seconds of audio per second and peak memory as the signal grows.

`python bench/dac_vae_chunks.py [--config configs/dac_vae_48k.py] [--seconds 10 60 600] [--chunk-seconds 10]
[--repeats 2] [--single-pass] [--max-timed-seconds S]`

Each length is encoded and decoded in chunks (`models/audio/chunking.py`: windows of the chunk plus the conv stack's
reach, one compiled program per length); `--single-pass` adds the unchunked encode / decode for comparison (it needs
memory in proportion to the length). Peak memory is XLA's accounting of the compiled program (arguments + outputs +
temporaries, `compiled.memory_analysis()`): the input and output grow with the length, so the table also gives the
temporaries, which chunking keeps flat. Weights are random: speed and memory do not depend on them. Results go to
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse

import harness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/dac_vae_48k.py")
    parser.add_argument("--seconds", type=float, nargs="+", default=[10, 60, 600])
    parser.add_argument("--chunk-seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--single-pass", action="store_true", help="also the unchunked encode and decode")
    parser.add_argument("--max-timed-seconds", type=float, default=float("inf"),
                        help="longer signals are compiled for their memory but not run")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    harness.setup()
    import jax
    from flax import nnx

    from mgjax.config.geometry import audio_hop, audio_latent_frames
    from mgjax.models.audio.chunking import chunked_decode, chunked_encode
    from mgjax.models.audio.dac_vae import DACVAE
    from mgjax.parallel.mesh import make_mesh
    from mgjax.train.tasks import load_config

    cfg = load_config(args.config, args.set)
    m = cfg.model
    hop = audio_hop(m.strides)
    chunk = max(1, round(args.chunk_seconds * m.sample_rate / hop))
    print(f"{cfg.name}: {m.sample_rate} Hz, hop {hop}, {m.latent_channels} channels; chunks of {chunk} latent frames "
          f"({chunk * hop / m.sample_rate:g} s); {jax.devices()[0].device_kind}")
    print("| seconds | pass | mode | peak MiB | temp MiB | audio s per s |")
    print("|---|---|---|---|---|---|")
    mib = lambda b: b / 2 ** 20  # noqa: E731
    with jax.set_mesh(make_mesh(cfg.mesh, jax.devices()[:1])):
        graphdef, state = nnx.split(DACVAE(m, rngs=nnx.Rngs(0)))
        for seconds in args.seconds:
            n = round(seconds * m.sample_rate)
            audio = 0.1 * jax.random.normal(jax.random.key(0), (1, n, 1))
            z = jax.random.normal(jax.random.key(1), (1, audio_latent_frames(n, hop), m.latent_channels))
            programs = {("encode", "chunked"): (lambda s, a: chunked_encode(nnx.merge(graphdef, s), a, chunk), audio),
                        ("decode", "chunked"): (lambda s, x: chunked_decode(nnx.merge(graphdef, s), x, chunk), z)}
            if args.single_pass:
                programs[("encode", "single pass")] = (lambda s, a: nnx.merge(graphdef, s).encode(a), audio)
                programs[("decode", "single pass")] = (lambda s, x: nnx.merge(graphdef, s).decode(x), z)
            for (kind, mode), (fn, x) in programs.items():
                compiled = jax.jit(fn).lower(state, x).compile()
                peak = harness.compiled_peak_bytes(compiled)
                temp = compiled.memory_analysis().temp_size_in_bytes
                speed = "not run"
                if seconds <= args.max_timed_seconds:
                    timing = harness.timeit(lambda: compiled(state, x), 1, args.repeats)
                    speed = f"{seconds / timing.median:.2f}"
                print(f"| {seconds:g} | {kind} | {mode} | {mib(peak):.0f} | {mib(temp):.0f} | {speed} |", flush=True)
            del audio, z


if __name__ == "__main__":
    main()
