"""Regenerates notebooks-data/digits.h5 from scikit-learn's copy of the UCI digits data.

Run once (needs numpy, h5py, scikit-learn); the toolkit itself never needs Python:

    python3 notebooks-data/scripts/make_digits.py notebooks-data/digits.h5

Layout: x [1797, 64] float32, pixel value / 16 in [0, 1]; y [1797] int64 class labels 0-9;
split [1797] int64, 1 (test) for every fifth sample (index % 5 == 4, 359 samples), 0 (train) otherwise.
"""
import sys

import h5py
import numpy as np
from sklearn.datasets import load_digits

out = sys.argv[1] if len(sys.argv) > 1 else "digits.h5"
digits = load_digits()
x = (digits.data / 16.0).astype(np.float32)  # k/16 is exact in float32
y = digits.target.astype(np.int64)
split = (np.arange(len(y)) % 5 == 4).astype(np.int64)
with h5py.File(out, "w") as f:
    f.attrs["name"] = "digits"
    f.attrs["origin"] = ("UCI Optical Recognition of Handwritten Digits, test set (E. Alpaydin, C. Kaynak, 1998), "
                         "as shipped by scikit-learn (sklearn.datasets.load_digits)")
    f.attrs["licence"] = "CC BY 4.0 (UCI Machine Learning Repository)"
    f.attrs["scaling"] = "pixel value / 16"
    f.attrs["split"] = "split = 1 (test) where index % 5 == 4, else 0 (train)"
    f.create_dataset("x", data=x, compression="gzip", shuffle=True)
    f.create_dataset("y", data=y, compression="gzip", shuffle=True)
    f.create_dataset("split", data=split, compression="gzip", shuffle=True)
print(f"wrote {out}: x {x.shape}, {int(split.sum())} test samples")
