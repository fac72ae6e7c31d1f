"""Typed, frozen configs: schema, loading experiment files, overrides and validation."""

from mgjax.config.load import flatten, format_config, load_config, save_config, to_dict
from mgjax.config.schema import (CodecConfig, Config, DataConfig, EvalConfig, FlowConfig, MeshConfig, OptimConfig,
                                 SampleConfig, TAEConfig, TAELossConfig, TextConfig, TextEncoderConfig, TrainConfig,
                                 VideoModelConfig, VisionEncoderConfig)

__all__ = ["CodecConfig", "Config", "DataConfig", "EvalConfig", "FlowConfig", "MeshConfig", "OptimConfig",
           "SampleConfig", "TAEConfig", "TAELossConfig", "TextConfig", "TextEncoderConfig", "TrainConfig",
           "VideoModelConfig", "VisionEncoderConfig",
           "flatten",
           "format_config", "load_config", "save_config", "to_dict"]
