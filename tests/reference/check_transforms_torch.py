#!/usr/bin/env python3
"""check_transforms_torch.py: the reference values tests/datasets/transforms_test.cpp uses for
bilinear resizing and center cropping, from PyTorch / torchvision (run where they are installed,
e.g. the GPU machine's image). Exits non-zero when a value differs from the one the test expects."""
import sys

import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF

checks = {
    "upsample 2x2 -> 4x4": (F.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]), size=(4, 4), mode="bilinear", align_corners=False),
                            [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3]),
    "downsample 4x4 -> 2x2": (F.interpolate(torch.arange(16.).reshape(1, 1, 4, 4), size=(2, 2), mode="bilinear", align_corners=False,
                                            antialias=False), [2.5, 4.5, 10.5, 12.5]),
    "uint8 1x2 -> 1x4": (F.interpolate(torch.tensor([[[[0, 255]]]], dtype=torch.uint8), size=(1, 4), mode="bilinear", align_corners=False),
                         [0, 64, 191, 255]),
    "center_crop 4x5 -> 2x2": (TF.center_crop(torch.arange(20.).reshape(1, 4, 5), [2, 2]), [7, 8, 12, 13]),
    "center_crop 2x2 -> 3x4": (TF.center_crop(torch.tensor([[[1., 2.], [3., 4.]]]), [3, 4]), [0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0]),
}
bad = 0
for name, (got, want) in checks.items():
    ok = [float(v) for v in got.flatten().tolist()] == [float(v) for v in want]
    bad += not ok
    print(f"{name}: {'ok' if ok else 'MISMATCH ' + str(got.flatten().tolist())}")
sys.exit(1 if bad else 0)
