"""The codec protocol: every registered kind's latents have the shape its geometry declares, and the geometry covers
the layouts the coming codecs need (images, audio)."""

import dataclasses

import jax
import numpy as np
import pytest

from conftest import CONFIGS
from mgjax.checkpoint.restore import load_codec
from mgjax.config import CodecConfig, MeshConfig, TAEConfig
from mgjax.config.geometry import CODEC_GEOMETRY, LatentGeometry, codec_geometry, latent_grid
from mgjax.config.validate import validate_image_vae
from mgjax.data.natural_clips import NaturalClips
from mgjax.errors import UserError
from mgjax.eval.metrics import psnr
from mgjax.eval.recon_baseline import bicubic_roundtrip
from mgjax.models.codec import CODECS, pixels_to_unit, unit_to_pixels
from mgjax.parallel.mesh import make_mesh
from mgjax.train.tasks import load_config


def test_every_codec_kind_has_a_geometry_and_a_registered_class():
    assert set(CODECS) == set(CODEC_GEOMETRY) == {"space_to_depth", "tae", "image_vae"}


@pytest.mark.parametrize("frames", [1, 4, 7, 8])
def test_latents_have_the_declared_shape(frames):
    """The committed TAE (encode, any frame count) and space-to-depth agree with their geometry, and decode restores
    the clip's length."""
    tae = load_config(CONFIGS / "shapes_t2v_tae.py").codec
    s2d = CodecConfig(kind="space_to_depth", factors=(1, 4, 4))
    video = np.random.default_rng(frames).uniform(-1, 1, (1, frames, 32, 32, 3)).astype(np.float32)
    with jax.set_mesh(make_mesh(MeshConfig(), jax.devices()[:1])):
        for cfg in (tae, s2d):
            codec = load_codec(cfg)
            z = codec.encode(video)
            assert z.shape[1:] == codec.geometry.latent_shape(frames, 32, 32) == latent_grid(cfg, frames, 32, 32)
            assert codec.decode(z, frames).shape == video.shape
    assert codec_geometry(tae).latent_shape(frames, 32, 32) == (-(-frames // 4), 8, 8, 16)


def test_the_image_vae_is_frame_wise():
    """The committed image VAE (the upsampler's codec): latent frames = pixel frames, and a clip's latents are its
    frames' latents encoded one by one (nothing mixes frames), for clips longer than a tile too."""
    cfg = load_config(CONFIGS / "shapes_t2i_tiny.py").codec
    video = np.random.default_rng(0).uniform(-1, 1, (1, 19, 16, 24, 3)).astype(np.float32)
    with jax.set_mesh(make_mesh(MeshConfig(), jax.devices()[:1])):
        codec = load_codec(cfg)
        z = codec.encode(video)
        assert z.shape == (1, 19, 4, 6, 16) == (1,) + codec.geometry.latent_shape(19, 16, 24)
        alone = np.concatenate([np.asarray(codec.encode(video[:, i:i + 1])) for i in (0, 17, 18)], axis=1)
        np.testing.assert_allclose(np.asarray(z)[:, [0, 17, 18]], alone, atol=2e-5)
        back = codec.decode(z, 19)
        alone = np.asarray(codec.decode(z[:, 17:18], 1))
        np.testing.assert_allclose(np.asarray(back)[:, 17:18], alone, atol=2e-5)
    temporal = CodecConfig(kind="image_vae", factors=(1, 4, 4), tae=dataclasses.replace(cfg.tae, temporal_kernel=3))
    with pytest.raises(UserError, match="not frame-wise"):
        validate_image_vae(temporal.tae, "codec.tae")


def test_the_committed_image_vae_beats_bicubic_on_photos_it_never_saw():
    """assets/image_vae_tiny (configs/image_vae_tiny.py) reconstructs 64x64 frames of the held-out photos well above
    downsampling them 4x and upsampling bicubically (eval: +5.8 dB; an untrained VAE is far below)."""
    cfg = load_config(CONFIGS / "shapes_t2i_tiny.py").codec
    clips = NaturalClips("heldout", num_frames=2, height=64, width=64, seed=3)
    truth = np.stack([clips[i]["video"] for i in range(6)])
    with jax.set_mesh(make_mesh(MeshConfig(), jax.devices()[:1])):
        codec = load_codec(cfg)
        recon = np.asarray(unit_to_pixels(codec.decode(codec.encode(pixels_to_unit(truth)), 2)))
    assert np.mean(psnr(truth, recon)) > np.mean(psnr(truth, bicubic_roundtrip(truth, 4))) + 3.0


def test_geometry_layouts_for_images_and_audio():
    image = LatentGeometry("image", (8, 8), 16)  # a frame-wise image VAE
    audio = LatentGeometry("audio", (1920,), 128)  # the DAC-VAE: 48 kHz -> 25 Hz x 128
    assert image.latent_shape(1080, 1920) == (135, 240, 16)
    assert audio.latent_shape(48_000 * 10) == (250, 128)
    assert audio.latent_shape(48_000 * 10 + 1) == (251, 128)  # a partial hop still gets a latent frame
    with pytest.raises(ValueError, match="takes 1 sizes"):
        audio.latent_shape(10, 10)


def test_pixel_conversions_invert_each_other():
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 1, 16, 16, 1)
    unit = pixels_to_unit(pixels)
    assert float(unit.min()) == -1.0 and float(unit.max()) == 1.0
    np.testing.assert_array_equal(np.asarray(unit_to_pixels(unit)), pixels)


def test_a_weighted_codec_without_a_run_is_one_line():
    with pytest.raises(UserError, match="codec.kind=tae needs codec.checkpoint"):
        load_codec(CodecConfig(kind="tae", factors=(8, 8, 8), tae=TAEConfig()))
