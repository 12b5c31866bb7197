"""The benchmark settings, one frozen record each: the one place a setting's facts are written.

A setting is what ``--setting`` names: the paper's six benchmarks (Tables 1-6), the offline demo
sets, or your own folder pairs. Each record says where its data lives, how many channels it has,
how the paper scores it (RGB or Y, border, SSIM window), the paper's recipe row (App. A.1-A.2) and
which of the paper's tables reports it (the numbers themselves are in ``exda_lite.paper``).

Every other module reads these records (``SETTINGS[name]``, or the constants below); a setting's
name is written as a string only here and in the command line.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    """One row of the paper's training recipe: (model, epochs, max_steps, where the paper says so)."""

    model: str
    epochs: int
    max_steps: int
    source: str
    length_stated: bool = True  # False: the paper does not state the training length (epochs is our choice)

    def row(self) -> tuple[str, int, int, str]:
        return self.model, self.epochs, self.max_steps, self.source


@dataclass(frozen=True)
class Setting:
    """Everything that belongs to one benchmark setting."""

    name: str
    folder: str | None = None  # under the data root ($EXDA_DATA or ~/.cache/exda-lite); None: no download
    channels: int = 3  # 1 for the medical tracks
    y_channel: bool = False  # the "paper" protocol scores the Y channel (BT.601) instead of RGB
    border: int = 0  # pixels cropped from each side before scoring (paper protocol)
    ssim_window: str = "uniform"  # "uniform" 7x7 (scikit-image) or "gaussian" 11x11 (MoCE-IR)
    recipe: Recipe | None = None  # None: no paper row (our own data)
    paper_table: int | None = None  # the paper's table of ExDA numbers (exda_lite.paper.TABLES)
    columns: tuple[str, ...] = ()  # the benchmark columns of that table, in order (without "Average")
    own_data: bool = False  # no paper row: no recipe departures or paper choices are printed
    demo: bool = False  # the offline scikit-image photos (exda_lite.data.demo_data)
    notes: tuple[str, ...] = ()  # what this setting decides that the paper leaves open


DEMO = Setting("demo", own_data=True, demo=True)
DEMO_MEDICAL = Setting("demo_medical", channels=1, own_data=True, demo=True)
THREE_DEG = Setting(
    "3deg", folder="allinone", paper_table=1,
    recipe=Recipe("exda_b", 130, 0, "App. A.1 '3 Degradation Datasets': 130 epochs; Table 1 rows: ExDA-B"),
    columns=("SOTS", "Rain100L", "BSD68 σ=15", "BSD68 σ=25", "BSD68 σ=50"))
FIVE_DEG = Setting(
    "5deg", folder="allinone", paper_table=2,
    recipe=Recipe("exda_b", 150, 0, "App. A.1 '5 Degradation Datasets': 150 epochs; Table 2"),
    columns=("SOTS", "Rain100L", "BSD68 σ=25", "GoPro", "LOLv1"))
CDD11 = Setting(
    "cdd11", folder="cdd11", ssim_window="gaussian", paper_table=3,
    recipe=Recipe("exda_b", 150, 0, "App. A.1 'Composited Degradation': 150 epochs; Table 3"),
    columns=("L", "H", "R", "S", "L+H", "L+R", "L+S", "H+R", "H+S", "L+H+R", "L+H+S"))
ALLWEATHER = Setting(
    "allweather", folder="allweather", y_channel=True, paper_table=4,
    recipe=Recipe("exda_b", 0, 300_000, "App. A.1 'Adverse Weather Removal': 300,000 iterations; Table 4"),
    columns=("Snow100K-S", "Snow100K-L", "Outdoor-Rain", "RainDrop"),
    notes=("validation and test on the Y channel: our choice (the paper does not say)",))
WEATHERBENCH = Setting(
    "weatherbench", folder="weatherbench", y_channel=True, border=4, paper_table=5,
    recipe=Recipe("exda_b", 120, 0, "App. A.1 'Real-World WeatherBench': 120 epochs; Table 5"),
    columns=("Dehaze", "Derain", "Desnow"))
MEDICAL = Setting(
    "medical", folder="amir", channels=1, paper_table=6,
    recipe=Recipe("exda_b", 100, 0, "Table 6; the length is NOT stated: 100 epochs is our choice", False),
    columns=("MRI-Super-Resolution", "CT-Denoising", "PET-Synthesis"),
    notes=("epochs={epochs}: the paper does not state the medical training length",))
PAIRS = Setting("pairs", own_data=True)

SETTINGS: dict[str, Setting] = {s.name: s for s in (DEMO, DEMO_MEDICAL, THREE_DEG, FIVE_DEG, CDD11, ALLWEATHER,
                                                     WEATHERBENCH, MEDICAL, PAIRS)}
"""Every setting by name, in the order ``--setting`` lists them."""

PAPER_SETTINGS = tuple(s for s in SETTINGS.values() if s.recipe is not None)
"""The paper's six benchmarks (Tables 1-6)."""

DEMO_RECIPE = Recipe("exda_t", 130, 0, "our choice (offline demo data, no paper row)")


def get_setting(name: str) -> Setting:
    """The setting called ``name``, with a clear error for an unknown one."""
    if name not in SETTINGS:
        raise ValueError(f"unknown setting {name!r}; choose from {sorted(SETTINGS)}")
    return SETTINGS[name]
