"""Sampling steps per second of the diffusion family, batch 1 and 16, with classifier-free guidance,
for each acceleration setting asked for (``--accel float32 bf16 bf16,channels_last,compile``)."""
from __future__ import annotations

import time

from _common import parser, table


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--accel", nargs="+", default=["default"],
                   help="switch sets to compare: default (the device's), none, or e.g. bf16,channels_last,compile")
    args = p.parse_args()

    from studio.core.accel import Accel
    from studio.core.device import describe, pick_device
    from studio.store.registry import load_model

    device = pick_device(args.device)
    rows = []
    for spec in args.accel:
        accel = Accel.default_for(device) if spec == "default" else Accel.parse(spec)
        model = load_model(args.checkpoint, device, accel=accel)
        rows += measure(model, accel.describe(), device, args.steps, args.repeats)
    print(f"device: {describe(device)}; checkpoint {args.checkpoint}; DDIM {args.steps} steps; best of {args.repeats}")
    print(table(rows, ("accel", "batch", "guidance", "steps/s", "images*steps/s", "s/run")))


def measure(model, accel: str, device: str, steps: int, repeats: int) -> list[tuple]:
    import torch

    rows = []
    for batch in (1, 16):
        for guidance in (1.0, 3.0):
            req = model.default_request().with_(prompt="a sneaker", steps=steps, batch_size=batch,
                                                guidance=guidance)
            model.generate(req.with_(steps=3))  # warm-up
            best = float("inf")
            for _ in range(repeats):
                t0 = time.perf_counter()
                model.generate(req)
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                best = min(best, time.perf_counter() - t0)
            rows.append((accel, batch, "on" if guidance != 1.0 else "off", f"{steps / best:.1f}",
                         f"{steps * batch / best:.0f}", f"{best:.2f}"))
    return rows


if __name__ == "__main__":
    main()
