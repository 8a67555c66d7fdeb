"""The video yardstick's floor: clips whose frames are drawn one by one by the image model
(diffusion-shapes, the video model's warm start), each frame from its own noise, so nothing ties
them together. Scored by `genstudio eval video`'s judge on the same fixed prompts, beside real clips.
What a video model adds over it is what its temporal layers learned.

    python benchmarks/video_baseline.py --n 1
"""
from __future__ import annotations

import numpy as np
from _common import ROOT, parser

from studio.core.data.moving_shapes import FRAMES
from studio.core.evaluation.video import evaluate_clip_generator
from studio.core.families import load_family

IMAGE_MODEL = ROOT / "resources" / "checkpoints" / "diffusion-shapes.safetensors"


def main() -> None:
    p = parser(__doc__)
    p.set_defaults(checkpoint=str(IMAGE_MODEL), device="cpu")
    p.add_argument("--n", type=int, default=1, help="clips per prompt (36 prompts)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--guidance", type=float, default=3.0)
    args = p.parse_args()
    model = load_family(args.checkpoint, args.device)
    base = model.default_request().with_(steps=args.steps, sampler="ddim", guidance=args.guidance)

    def frames_one_by_one(prompt: str, n: int, seed: int) -> np.ndarray:
        # clip i of seed s: frame k is image 0 of seed (s + i) * FRAMES + k, so no two frames share noise
        images = model.generate_many(base.with_(prompt=prompt, seed=seed * FRAMES), n * FRAMES)
        return images.reshape(n, FRAMES, *images.shape[1:])

    r = evaluate_clip_generator(frames_one_by_one, n_per_prompt=args.n)
    rows = [("motion adherence", "motion_adherence"), ("object adherence", "object_adherence"),
            ("colour adherence", "colour_adherence"), ("temporal consistency", "temporal_consistency"),
            ("clips >= 90% consistent", "consistent_clips"), ("frame FD", "fd_frames")]
    print(f"{'':26}{'frames one by one':>18}{'real clips':>12}   ({r['clips']} clips, {args.steps} DDIM steps, "
          f"guidance {args.guidance:g}, {model.checkpoint.id})")
    for label, key in rows:
        print(f"{label:26}{r[key]:18.3f}{r['real'][key]:12.3f}")


if __name__ == "__main__":
    main()
