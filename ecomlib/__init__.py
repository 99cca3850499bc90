"""ecomlib — the e-commerce operations review kit: data contract, metrics, statistics, plots, report runner.

The names most notebooks need are re-exported here; each review has its own module
(``ecomlib.funnel``, ``ecomlib.cohorts``, ``ecomlib.ltv``, ``ecomlib.ads``, ``ecomlib.suppliers``,
``ecomlib.returns``).
"""

import warnings

# pandera imports pyspark.pandas when PySpark (the spark engine) is installed, at import and again when it checks a
# frame's type, and PySpark 4.3 warns about pandas 3 each time; the kit never uses pyspark.pandas, so the warning
# would only clutter every page.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

from .dataset import Dataset, Store, load_dataset
from .errors import (ContractError, EcomlibError, FileEncodingError, FitError, MissingTableError,
                     NotFittedError, ParameterError, PeriodError, ReviewError)
from .i18n import Messages
from .periods import Period, parse_period, resolve
from .report import Headline, conclusions, gap, note, record_headlines, styled, title
from .review import Finding, Gap, Result
from .theme import set_theme

__version__ = "0.1.0"

__all__ = [
    "ContractError", "Dataset", "EcomlibError", "FileEncodingError", "Finding", "FitError", "Gap", "Headline",
    "Messages", "MissingTableError", "NotFittedError", "ParameterError", "Period", "PeriodError", "Result",
    "ReviewError", "Store", "conclusions", "gap", "load_dataset", "note", "parse_period", "record_headlines",
    "resolve", "set_theme", "styled", "title",
]
