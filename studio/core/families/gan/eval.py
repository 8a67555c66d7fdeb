"""Measures of a Faces GAN, judged by the project's Faces attribute classifier:

* quality: the Frechet distance between classifier features of generated and of real faces, with
  real-vs-real at the same sample size as the floor (as ``evaluation`` does for Fashion-MNIST);
* attribute edit: walk random latents along an attribute direction and record how the classifier's
  reading of that attribute, and of every other one, changes. A clean edit raises its own score
  monotonically and leaves the others nearly where they were."""
from __future__ import annotations

import time

import numpy as np

from ...data.faces import ATTRIBUTES, make_faces
from ...errors import StudioError
from ...evaluation.face_classifier import TEST_SEED, FaceClassifier
from ...evaluation.metrics import feature_stats, frechet_distance

REAL_SEED = 7  # real faces for the floor: neither the GAN's (0) nor the classifier's (100, 101)


def faces_quality(family, clf: FaceClassifier, n: int = 2000, seed: int = 0) -> dict:
    t0 = time.perf_counter()
    fake = np.concatenate([family.decode(family.prior_latents(seed + s, min(500, n - s)))
                           for s in range(0, n, 500)])
    real_test, _ = make_faces(n, TEST_SEED)
    real_other, _ = make_faces(n, REAL_SEED)
    f_fake, f_test, f_other = (clf.embed(x)[0] for x in (fake, real_test, real_other))
    mu, sigma = feature_stats(f_test)
    return {"fid_face_classifier": frechet_distance(*feature_stats(f_fake), mu, sigma),
            "fid_face_classifier_real_vs_real_same_n": frechet_distance(*feature_stats(f_other), mu, sigma),
            "settings": {"samples": n, "seed": seed, "truncation": 1.0,
                         "reference": f"procedural faces, seed {TEST_SEED} ({n})"},
            "seconds": round(time.perf_counter() - t0, 1)}


def attribute_edit(family, clf: FaceClassifier, attribute: str = "smile", n: int = 200, seed: int = 0,
                   steps: tuple[float, ...] = (-3, -2, -1, 0, 1, 2, 3)) -> dict:
    """Move n random latents along ``attribute``'s slider and read every attribute at each step."""
    label = attribute.replace("_", " ")
    if label not in family.basis.names:
        raise StudioError(f"{family.checkpoint.id} has no {label!r} direction; its sliders are "
                          f"{', '.join(family.basis.names)}.")
    k = family.basis.names.index(label)
    direction = family.basis.directions[k] * family.basis.scales[k]
    z0 = family.prior_latents(seed, n)  # the seeds' latents: z, or w with a mapping network
    readings = []
    for t in steps:
        _, preds = clf.embed(family.decode(z0 + t * direction))
        readings.append(preds)
    own = [float(np.mean(r[attribute])) for r in readings]
    first, last = readings[0], readings[-1]
    others = {}
    for a in ATTRIBUTES:
        if a.name == attribute:
            continue
        if a.kind == "categorical":  # share of faces whose predicted class changed
            others[a.name] = float(np.mean(first[a.name] != last[a.name]))
        else:
            others[a.name] = float(np.mean(np.abs(last[a.name] - first[a.name])))
    own_change = own[-1] - own[0]
    return {"attribute": attribute, "steps": list(steps), "mean_score": own,
            "monotonic": bool(np.all(np.diff(own) > 0)), "change": own_change,
            "others_change": others,
            "settings": {"latents": n, "seed": seed,
                         "others": "mean |change| from the first to the last step for continuous and binary "
                                   "attributes (glasses: probability); share of changed classes for categorical"}}
