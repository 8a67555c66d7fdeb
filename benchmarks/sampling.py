"""Sampling steps per second of the diffusion family, batch 1 and 16, with classifier-free guidance."""
from __future__ import annotations

import time

from _common import parser, table


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    import torch

    from studio.core.device import describe, pick_device
    from studio.store.registry import load_model

    device = pick_device(args.device)
    model = load_model(args.checkpoint, device)
    rows = []
    for batch in (1, 16):
        for guidance in (1.0, 3.0):
            req = model.default_request().with_(prompt="a sneaker", steps=args.steps, batch_size=batch,
                                                guidance=guidance)
            model.generate(req.with_(steps=3))  # warm-up
            best = float("inf")
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                model.generate(req)
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                best = min(best, time.perf_counter() - t0)
            rows.append((batch, "on" if guidance != 1.0 else "off", f"{args.steps / best:.1f}",
                         f"{args.steps * batch / best:.0f}", f"{best:.2f}"))
    print(f"device: {describe(device)}; checkpoint {args.checkpoint}; DDIM {args.steps} steps; best of {args.repeats}")
    print(table(rows, ("batch", "guidance", "steps/s", "images*steps/s", "s/run")))


if __name__ == "__main__":
    main()
