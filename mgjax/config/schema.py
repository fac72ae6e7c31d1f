"""The root config every experiment file in `configs/` returns: one section per component.

Fields carry the paper's numbers as defaults where the paper gives one (`shared/spec/moviegen.md`); where the paper is
silent the field's comment says so. `model` and `loss` are typed per task: the task (mgjax/train/tasks/) declares
which config classes it takes (text-to-video: VideoModelConfig and no loss section; tae: TAEConfig and TAELossConfig).
"""

from __future__ import annotations

import dataclasses

from mgjax.config.audio import DACVAEConfig, DACVAELossConfig
from mgjax.config.codec import CodecConfig
from mgjax.config.data import DataConfig
from mgjax.config.flow import FlowConfig, SampleConfig
from mgjax.config.mesh import MeshConfig
from mgjax.config.tae import TAEConfig, TAELossConfig
from mgjax.config.text import TextConfig
from mgjax.config.train import EvalConfig, OptimConfig, TrainConfig
from mgjax.config.video import VideoModelConfig


@dataclasses.dataclass(frozen=True)
class Config:
    name: str = "moviegen_video_30b"
    task: str = "t2v"  # a registered task (mgjax/train/tasks/): t2v, tae, dac_vae
    model: VideoModelConfig | TAEConfig | DACVAEConfig = VideoModelConfig()  # the task's model
    loss: TAELossConfig | DACVAELossConfig | None = None  # the task's loss, where it has its own section
    text: TextConfig = TextConfig()
    codec: CodecConfig = CodecConfig()
    data: DataConfig = DataConfig()
    flow: FlowConfig = FlowConfig()
    sample: SampleConfig = SampleConfig()
    optim: OptimConfig = OptimConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
    mesh: MeshConfig = MeshConfig()
