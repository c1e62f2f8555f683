"""Project-wide pytest set-up: strict nbval for every notebook, from any working directory.

* the sanitize file is resolved here (nbval resolves a relative path against the working dir);
* stderr (tqdm bars, warnings that embed temporary paths) and SVG (embeds a date) are excluded
  from the comparison for all notebooks; everything else a cell prints is compared.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"


def pytest_configure(config):
    if hasattr(config.option, "nbval_sanitize_with") and not config.option.nbval_sanitize_with:
        config.option.nbval_sanitize_with = str(SANITIZE)


def pytest_collectstart(collector):
    if type(collector).__name__ == "IPyNbFile":
        collector.skip_compare = (*collector.skip_compare, "stderr", "image/svg+xml")
