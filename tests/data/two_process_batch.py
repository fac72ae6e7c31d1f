"""One of two JAX processes on localhost (run by test_video_pipeline.py): reads its shard of a video-folder batch,
assembles the global jax.Array on a 4-device mesh spanning both processes, and process 0 saves what it sees.

    python two_process_batch.py PORT PROCESS_ID DATA_ROOT OUT_DIR
"""

import sys

import jax

port, pid, root, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
jax.config.update("jax_num_cpu_devices", 2)
jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=pid)

import pathlib  # noqa: E402

import numpy as np  # noqa: E402
from jax.experimental import multihost_utils  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from mgjax.cli import set_global_flags  # noqa: E402

set_global_flags()
from mgjax.config import MeshConfig  # noqa: E402
from mgjax.data.video_pipeline import VideoFolderBatches  # noqa: E402
from mgjax.parallel.mesh import make_mesh  # noqa: E402
from mgjax.parallel.rules import VIDEO_RULES  # noqa: E402
from mgjax.parallel.sharding import put_batch  # noqa: E402
from test_video_pipeline import data_config  # noqa: E402

assert jax.process_count() == 2 and len(jax.devices()) == 4
cfg = data_config(pathlib.Path(root), batch_size=4, max_bad_samples=10)
batches = VideoFolderBatches(cfg, num_steps=3)
mesh = make_mesh(MeshConfig(data=-1))
for step in range(3):
    local = next(batches)
    with jax.set_mesh(mesh):
        video = put_batch({"video": local["video"]}, mesh, VIDEO_RULES, process_local=True)["video"]
    assert video.shape[0] == 2 * local["video"].shape[0]
    whole = multihost_utils.process_allgather(video, tiled=True)
    captions = multihost_utils.process_allgather(np.array([hash(c) % 2**31 for c in local["caption"]]), tiled=True)
    if pid == 0:
        np.savez(pathlib.Path(out) / f"step{step}.npz", video=whole, local_video=local["video"], caption_hash=captions)
    (pathlib.Path(out) / f"captions_{pid}_{step}.txt").write_text("\n".join(local["caption"]))
batches.close()
multihost_utils.sync_global_devices("done")
