"""Medical all-in-one data (App. A.1; AMIR, Yang et al. 2024): MRI super-resolution, CT denoising, PET synthesis.

Layout (ours, read by exda_lite.data.datasets.MedicalAMIR; grayscale PNG 8/16-bit or .npy in [0, 1]):
    {train,val,test}/mri/{lq,hq}/   IXI T2 slices; lq = 4x k-space truncation (central 6.25 %)
    {train,val,test}/ct/{lq,hq}/    AAPM-Mayo quarter-dose / full-dose slices (18,531 / 128 / 211)
    {train,val,test}/pet/{lq,hq}/   low-count / full-count PET slices

The AMIR bundle is on Baidu only and the CT originals need a registration, so everything
here is manual. prepare places files already in the layout above, and builds missing MRI
lq slices from the hq ones with exda_lite.data.degradations.mri_undersample (the paper's
degradation) -- so HQ slices you exported yourself (e.g. from IXI volumes) are enough.

Usage: python data_scripts/medical.py {download,prepare,verify} [--root ROOT]
"""

import sys
from pathlib import Path

import numpy as np
from datatool import Expect, Place, Setting, Source, main

LAYOUT = r"(?P<keep>(train|val|test)/(mri|ct|pet)/(lq|hq)/[^/]+\.(png|tif|npy))$"

SOURCES = (
    Source("amir", "AMIR's processed MRI/CT/PET bundle", "amir.zip", (Place(LAYOUT, "."),),
           manual="The AMIR bundle is shared on Baidu Netdisk from https://github.com/Yaziwel/"
                  "All-In-One-Medical-Image-Restoration-via-Task-Adaptive-Routing (see its README). "
                  "Arrange it as {train,val,test}/{mri,ct,pet}/{lq,hq}/ or place the files directly.",
           size="~10 GB (estimate)", licence="IXI: CC BY-SA 3.0; AAPM data: challenge terms; PET: AMIR authors"),
    Source("aapm_ct", "AAPM-Mayo low-dose CT challenge (10 patients)", "aapm.zip", (Place(LAYOUT, "."),),
           manual="Register for the 2016 NIH-AAPM-Mayo Low Dose CT Grand Challenge data (now on The Cancer "
                  "Imaging Archive as 'LDCT-and-Projection-data'); export quarter-dose slices to ct/lq and "
                  "full-dose to ct/hq (patients 8/1/1 for train/val/test).",
           size="~40 GB (DICOM)", licence="TCIA Data Usage Policy; registration required"),
    Source("ixi_t2", "IXI T2 volumes (578 NIfTI files; slicing them is left to you)", "IXI-T2.tar", (),
           url="http://biomedic.doc.ic.ac.uk/brain-development/downloads/IXI/IXI-T2.tar",
           size="~4.5 GB", licence="IXI: CC BY-SA 3.0", optional=True),
)

SPLITS = (("train", None, 18531), ("val", None, 128), ("test", None, 211))
EXPECTED = tuple(Expect(split, f"{task} {part}", f"{split}/{task}/{part}", ct if task == "ct" else mri)
                 for split, mri, ct in SPLITS for task in ("mri", "ct", "pet") for part in ("lq", "hq"))


def make_mri_lq(root: Path) -> None:
    """Write {split}/mri/lq/NAME for every hq slice that has no lq partner (4x k-space truncation)."""
    from PIL import Image

    from exda_lite.data.degradations import mri_undersample  # imported here: it pulls in torch via exda_lite

    made = 0
    for hq_dir in sorted(root.glob("*/mri/hq")):
        lq_dir = hq_dir.parent / "lq"
        for hq in sorted(p for p in hq_dir.iterdir() if p.suffix.lower() in (".png", ".tif", ".npy")):
            lq = lq_dir / hq.name
            if lq.exists():
                continue
            lq_dir.mkdir(parents=True, exist_ok=True)
            if hq.suffix.lower() == ".npy":
                np.save(lq, mri_undersample(np.load(hq).astype(np.float32)))
            else:
                array = np.asarray(Image.open(hq))
                scale = 65535.0 if array.dtype == np.uint16 else 255.0
                out = np.round(mri_undersample(array.astype(np.float32) / scale) * scale).astype(array.dtype)
                Image.fromarray(out).save(lq)
            made += 1
    if made:
        print(f"[mri] made {made} lq slices from hq by 4x k-space truncation (central 6.25 %)")


SETTING = Setting("medical", "amir", "Medical all-in-one (AMIR): MRI SR, CT denoising, PET synthesis",
                  SOURCES, EXPECTED, extra_prepare=make_mri_lq)

if __name__ == "__main__":
    sys.exit(main(SETTING))
