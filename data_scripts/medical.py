"""Medical all-in-one data (App. A.1; AMIR, Yang et al. 2024): MRI super-resolution, CT denoising, PET synthesis.

Layout (ours, read by exda_lite.data.datasets.MedicalAMIR; grayscale PNG 8/16-bit or .npy in [0, 1]):
    {train,val,test}/mri/{lq,hq}/   IXI T2 slices; lq = 4x k-space truncation (central 6.25 %)
    {train,val,test}/ct/{lq,hq}/    AAPM-Mayo quarter-dose / full-dose slices (18,531 / 128 / 211)
    {train,val,test}/pet/{lq,hq}/   low-count / full-count PET slices

Slice files are named PATIENT_SLICE.ext (e.g. IXI002-Guys-0828_045.png, L067_0001.png): the
patient is the name up to its last "_". The paper splits by patient (App. A.1): MRI 405/59/114
IXI volumes (one T2 volume per subject), CT 8/1/1 patients, PET 120/10/29 patients.
``verify`` counts the patients of every split against these and fails when a patient occurs in
two splits (leakage); names without a "_" cannot be checked and get a warning.

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
PATIENT_SPLITS = {"mri": (405, 59, 114), "ct": (8, 1, 1), "pet": (120, 10, 29)}
"""Patients (volumes) per train/val/test split, App. A.1; the same table as exda_lite.data.layout.AMIR_PATIENT_SPLITS."""
SPLIT_NAMES = ("train", "val", "test")
SUFFIXES = (".png", ".tif", ".npy")


def patient_of(stem: str) -> str | None:
    """PATIENT of a PATIENT_SLICE file stem, None without a "_"."""
    return stem.rsplit("_", 1)[0] if "_" in stem else None


def check_patients(root: Path) -> tuple[list[str], list[str]]:
    """(problems, warnings): patient counts per split vs the paper's, and patients found in two splits."""
    problems, warnings = [], []
    for task, counts in PATIENT_SPLITS.items():
        seen: dict[str, set] = {}
        unnamed = 0
        for split in SPLIT_NAMES:
            folder = root / split / task / "hq"
            files = [p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES] if folder.is_dir() else []
            patients = {patient_of(p.stem) for p in files}
            unnamed += None in patients
            seen[split] = patients - {None}
        if unnamed:
            warnings.append(f"{task}: some slice names have no PATIENT_ prefix; the patient split cannot be checked")
            continue
        for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
            leaked = sorted(seen[a] & seen[b])
            if leaked:
                problems.append(f"{task}: patient(s) in both {a} and {b} (leakage): {', '.join(leaked[:10])}")
        found = tuple(len(seen[split]) for split in SPLIT_NAMES)
        if any(found) and found != counts:
            problems.append(f"{task}: patients per train/val/test are {found[0]}/{found[1]}/{found[2]}, "
                            f"the paper's split is {counts[0]}/{counts[1]}/{counts[2]}")
    return problems, warnings

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


PAIRS = tuple((f"{split}/{task}/lq", f"{split}/{task}/hq") for split in SPLIT_NAMES for task in PATIENT_SPLITS)

SETTING = Setting("medical", "amir", "Medical all-in-one (AMIR): MRI SR, CT denoising, PET synthesis",
                  SOURCES, EXPECTED, extra_prepare=make_mri_lq, pairs=PAIRS, extra_verify=check_patients)

if __name__ == "__main__":
    sys.exit(main(SETTING))
