"""Typed, frozen configs: one module per component, loading experiment files, overrides, geometry and validation."""

from mgjax.config.codec import CodecConfig
from mgjax.config.data import DataConfig, MovingShapesConfig, NaturalClipsConfig
from mgjax.config.flow import FlowConfig, SampleConfig
from mgjax.config.load import flatten, format_config, load_config, save_config, to_dict
from mgjax.config.mesh import MeshConfig
from mgjax.config.schema import Config
from mgjax.config.tae import TAEConfig, TAELossConfig
from mgjax.config.text import TextConfig, TextEncoderConfig, text_encoder
from mgjax.config.train import EvalConfig, OptimConfig, TrainConfig
from mgjax.config.video import VideoModelConfig, video_model
from mgjax.config.vision import VisionEncoderConfig

__all__ = ["CodecConfig", "Config", "DataConfig", "EvalConfig", "FlowConfig", "MeshConfig", "MovingShapesConfig",
           "NaturalClipsConfig", "OptimConfig", "SampleConfig", "TAEConfig", "TAELossConfig", "TextConfig",
           "TextEncoderConfig", "TrainConfig", "VideoModelConfig", "VisionEncoderConfig", "flatten", "format_config",
           "load_config", "save_config", "text_encoder", "to_dict", "video_model"]
